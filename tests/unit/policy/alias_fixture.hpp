// Shared by the alias, quota, folder and SRS tests: a temporary directory, files in it, and a
// configuration of three domains.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "policy/alias_table.hpp"
#include "policy/local_domains.hpp"

namespace ehlo::policy::test {

class TempDir {
public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/ehlo-policy-XXXXXX";
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, std::string_view text) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
}

// example.org: listed mailboxes; catchall.test: any name; example.net: an alias of example.org.
inline std::vector<config::LocalDomain> test_domains(const std::string& root = "/srv/mail") {
    config::LocalDomain org{"example.org", false, {"alice", "bob", "carol", "bob-smith"}, root + "/example.org", "bob"};
    org.folders = true;
    config::LocalDomain catchall{"catchall.test", true, {}, root + "/catchall", "postmaster"};
    config::LocalDomain net{"example.net", false, {}, root + "/example.net", "postmaster"};
    net.alias_of = "example.org";
    return {org, catchall, net};
}

inline AliasFileSpec global(std::string path = "aliases") { return {std::move(path), AliasFormat::Aliases, {}}; }
inline AliasFileSpec of_domain(std::string domain, std::string path = "domain-aliases") {
    return {std::move(path), AliasFormat::Aliases, std::move(domain)};
}
inline AliasFileSpec virtual_file(std::string path = "virtual") { return {std::move(path), AliasFormat::Virtual, {}}; }

}  // namespace ehlo::policy::test

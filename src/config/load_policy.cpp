// The loader's readers of the address tables: [aliases] (the alias files) and [srs] (the
// Sender Rewriting Scheme for forwarded mail).
#include <algorithm>
#include <string>
#include <vector>

#include "config/toml_reader.hpp"
#include "smtp/address.hpp"

namespace ehlo::config::load_detail {


void read_aliases(TableReader& r, Config::Aliases& aliases) {
    std::vector<std::string> seen;
    auto read_list = [&](std::string_view key, std::vector<std::string>& out) {
        auto files = r.strings(key);
        if (!files) return;
        out.clear();
        for (const auto& item : *files) {
            if (item.value.empty()) {
                r.error(item.where, key, "must not hold an empty file name");
            } else if (std::find(seen.begin(), seen.end(), item.value) != seen.end()) {
                r.error(item.where, key, "names " + in_quotes(item.value) + " twice");
            } else {
                seen.push_back(item.value);
                out.push_back(item.value);
            }
        }
    };
    read_list("files", aliases.files);
    read_list("virtual_files", aliases.virtual_files);
}

// The SRS timestamp is a day number modulo 1024 (two base32 characters), so an address older
// than 1023 days cannot be told from a new one; the hash is HMAC-SHA1, 27 base64 characters
// at most, and fewer than 4 would be guessed too easily (libsrs2's minimum).
constexpr std::int64_t kMaxSrsAgeDays = 1023;
constexpr std::int64_t kMinSrsHashLength = 4;
constexpr std::int64_t kMaxSrsHashLength = 27;

void read_srs(TableReader& r, Config::Srs& srs, LaterChecks& later) {
    if (auto domain = r.string("domain")) {
        srs.domain = lower(domain->value);
        if (!srs.domain.empty()) {
            if (!smtp::is_valid_domain(srs.domain, false)) {
                r.error(domain->where, "domain", "must be empty or a domain name, not " + in_quotes(domain->value));
                srs.domain.clear();
            } else {
                later.srs_domain = Located{srs.domain, domain->where};
            }
        }
    }
    if (auto file = r.string("secret_file")) {
        if (file->value.empty()) {
            r.error(file->where, "secret_file", "must not be empty");
        } else {
            srs.secret_file = file->value;
        }
    }
    r.integer("max_age", srs.max_age, 1, kMaxSrsAgeDays, "days; the timestamp counts days modulo 1024");
    r.integer("hash_length", srs.hash_length, kMinSrsHashLength, kMaxSrsHashLength, "base64 characters of HMAC-SHA1");
}

}  // namespace ehlo::config::load_detail

// What the address side costs: loading a large alias table, and one RCPT verdict for a
// mailbox, an alias, a list, an SRS bounce; one SRS rewrite of a sender. Prints a Markdown
// table. Built on demand (not part of `ninja` all):
//
//     ninja -C build bench_aliases && build/bench_aliases [USERS]
//
// USERS (default 100000) mailboxes get an alias each ("first.last: userN"), and one list in
// a hundred users of 50 members; the files are written to a temporary folder and removed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.hpp"
#include "observe/log.hpp"
#include "policy/policy.hpp"

using namespace ehlo;
using Clock = std::chrono::steady_clock;

namespace {

template <typename F>
double ns_per_call(std::size_t n, F&& f) {
    const auto start = Clock::now();
    for (std::size_t i = 0; i < n; ++i) f(i);
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t users = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100000;
    observe::init({observe::Level::Warn, "", false});
    char tmpl[] = "/tmp/ehlo-bench-aliases-XXXXXX";
    if (!::mkdtemp(tmpl)) return 1;
    const std::filesystem::path dir = tmpl;

    config::Config cfg;
    config::LocalDomain domain{"example.org", false, {}, (dir / "mail").string(), "postmaster"};
    std::ofstream aliases(dir / "aliases");
    for (std::size_t i = 0; i < users; ++i) {
        domain.mailboxes.push_back("user" + std::to_string(i));
        aliases << "first" << i << ".last: user" << i << "\n";
    }
    const std::size_t lists = users / 100;
    for (std::size_t l = 0; l < lists; ++l) {
        aliases << "list" << l << ":";
        for (std::size_t m = 0; m < 50; ++m) aliases << (m ? ", user" : " user") << (l * 50 + m) % users;
        aliases << "\n";
    }
    aliases.close();
    cfg.domains = {domain};
    cfg.aliases.files = {(dir / "aliases").string()};
    cfg.srs.domain = "example.org";
    cfg.srs.secret_file = (dir / "srs.secret").string();

    const auto load_start = Clock::now();
    policy::PolicyOptions options;
    options.background = false;
    policy::Policy policy(cfg, options);
    const double load_ms = std::chrono::duration<double, std::milli>(Clock::now() - load_start).count();
    const auto file_size = std::filesystem::file_size(dir / "aliases");

    const std::size_t n = 200000;
    std::size_t sink = 0;
    const double mailbox = ns_per_call(n, [&](std::size_t i) {
        sink += policy.resolve_rcpt({"user" + std::to_string(i % users), "example.org"}, false).destinations.size();
    });
    const double alias = ns_per_call(n, [&](std::size_t i) {
        sink += policy.resolve_rcpt({"first" + std::to_string(i % users) + ".last", "example.org"}, false).destinations.size();
    });
    const double list = ns_per_call(n / 10, [&](std::size_t i) {
        sink += policy.resolve_rcpt({"list" + std::to_string(i % lists), "example.org"}, false).destinations.size();
    });
    const double unknown = ns_per_call(n, [&](std::size_t i) {
        sink += policy.resolve_rcpt({"nobody" + std::to_string(i), "example.org"}, false).destinations.size();
    });
    const auto srs_address = *policy.forward_sender(smtp::Mailbox{"someone", "sender.example"});
    const double forward = ns_per_call(n, [&](std::size_t i) {
        sink += policy.forward_sender(smtp::Mailbox{"someone" + std::to_string(i % 1000), "sender.example"})->local_part.size();
    });
    const double bounce = ns_per_call(n, [&](std::size_t) { sink += policy.resolve_rcpt(srs_address, false).destinations.size(); });

    std::printf("| what | cost |\n|---|---|\n");
    std::printf("| load and check %zu aliases + %zu lists (%ju bytes) | %.0f ms |\n", users, lists,
                static_cast<std::uintmax_t>(file_size), load_ms);
    std::printf("| RCPT verdict, a mailbox | %.0f ns |\n", mailbox);
    std::printf("| RCPT verdict, an alias of one mailbox | %.0f ns |\n", alias);
    std::printf("| RCPT verdict, a list of 50 | %.0f ns |\n", list);
    std::printf("| RCPT verdict, unknown (550 5.1.1) | %.0f ns |\n", unknown);
    std::printf("| SRS rewrite of a sender | %.0f ns |\n", forward);
    std::printf("| RCPT verdict, an SRS bounce | %.0f ns |\n", bounce);
    std::fprintf(stderr, "(%zu)\n", sink);
    std::filesystem::remove_all(dir);
    return 0;
}

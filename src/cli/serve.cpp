#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "net/server.hpp"
#include "observe/log.hpp"
#include "policy/policy.hpp"
#include "queue/queue.hpp"

namespace ehlo::cli {
namespace {

observe::Level parse_level(const std::string& s) {
    if (s == "debug") return observe::Level::Debug;
    if (s == "warn") return observe::Level::Warn;
    if (s == "error") return observe::Level::Error;
    return observe::Level::Info;
}

// Thousands of idle connections need thousands of descriptors: take what the hard limit allows.
void raise_file_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace

int serve(const ServeOptions& options) {
    config::Config cfg;
    if (!options.config_file.empty()) {
        auto loaded = config::load_file(options.config_file);
        if (loaded.error) {
            std::cerr << loaded.error->str() << "\n";
            std::cerr << "ehlo: refusing to start with an invalid configuration\n";
            return 1;
        }
        cfg = std::move(*loaded.config);
    }
    if (cfg.server.hostname.empty()) {
        char buf[256] = {};
        cfg.server.hostname = ::gethostname(buf, sizeof buf - 1) == 0 && buf[0] ? buf : "localhost";
    }
    observe::init({parse_level(cfg.log.level), cfg.log.file, cfg.log.dialog || options.dialog});
    ::signal(SIGPIPE, SIG_IGN);
    raise_file_limit();

    try {
        policy::Policy policy(cfg);
        queue::QueueOptions qo;
        qo.spool_dir = cfg.spool.path;
        qo.sync = cfg.spool.sync == config::SyncMode::Fsync ? queue::SyncMode::Fsync : queue::SyncMode::Syncfs;
        qo.hostname = cfg.server.hostname;
        queue::Queue queue(qo, [&policy](const smtp::Mailbox& rcpt) { return policy.route(rcpt); });
        net::Server server(cfg, policy, queue);
        queue.start();
        observe::info("started", {{"version", EHLO_VERSION}, {"config", options.config_file.empty() ? "embedded" : options.config_file}});
        server.run();
        queue.stop();
    } catch (const std::exception& e) {
        observe::error("fatal", {{"error", e.what()}});
        std::cerr << "ehlo: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace ehlo::cli

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "config/config.hpp"
#include "delivery/remote_delivery.hpp"
#include "delivery/resolver.hpp"
#include "net/control_server.hpp"
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

// SIGHUP: read the alias files again. The signal is blocked in every thread (the mask is set
// before any thread is started, and threads inherit it) and taken by this one thread with
// sigtimedwait, so the reload is ordinary code rather than a signal handler's, and it reads
// the files off the event loops. A bad file keeps the table in use (policy logs why).
class ReloadOnHangup {
public:
    static void block() {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
    }

    explicit ReloadOnHangup(policy::Policy& policy)
        : thread_([this, &policy] {
              sigset_t set;
              sigemptyset(&set);
              sigaddset(&set, SIGHUP);
              const timespec tick{0, 200 * 1000 * 1000};  // how soon a stop is noticed
              while (!stop_) {
                  if (sigtimedwait(&set, nullptr, &tick) != SIGHUP) continue;
                  observe::info("reload", {{"signal", "SIGHUP"}});
                  try {
                      policy.reload_aliases();
                  } catch (const std::exception& e) {
                      observe::error("reload", {{"error", e.what()}});
                  }
              }
          }) {}
    ~ReloadOnHangup() {
        stop_ = true;
        thread_.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

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
    ReloadOnHangup::block();

    try {
        policy::Policy policy(cfg);
        ReloadOnHangup hangup(policy);

        // Onward delivery: DNS (libunbound on its own thread) and the SMTP client (its own loop).
        delivery::ResolverOptions ro;
        ro.forwarders = cfg.dns.forwarders;
        ro.timeout = std::chrono::seconds(cfg.dns.timeout);
        ro.dnssec = cfg.dns.dnssec;
        ro.local_names = {cfg.server.hostname};
        delivery::Resolver resolver(ro);
        delivery::RemoteOptions rmo;
        rmo.helo_name = cfg.outbound.helo_name.empty() ? cfg.server.hostname : cfg.outbound.helo_name;
        rmo.max_connections = cfg.outbound.connections;
        rmo.max_connections_per_destination = cfg.outbound.connections_per_destination;
        rmo.max_messages_per_connection = cfg.outbound.messages_per_connection;
        rmo.connect_timeout = std::chrono::seconds(cfg.outbound.connect_timeout);
        rmo.timeout_scale = cfg.outbound.timeout_scale;
        delivery::RemoteDelivery remote(rmo, resolver);

        queue::QueueOptions qo;
        qo.spool_dir = cfg.spool.path;
        qo.sync = cfg.spool.sync == config::SyncMode::Fsync ? queue::SyncMode::Fsync : queue::SyncMode::Syncfs;
        qo.hostname = cfg.server.hostname;
        qo.retry_min = std::chrono::seconds(cfg.delivery.retry_min);
        qo.retry_max = std::chrono::seconds(cfg.delivery.retry_max);
        qo.lifetime = std::chrono::seconds(cfg.delivery.lifetime);
        qo.delay_warning = std::chrono::seconds(cfg.delivery.delay_warning);
        qo.max_received = cfg.delivery.max_received;
        qo.null_sender_failures_to = config::failure_notice_address(cfg);
        queue::Queue queue(qo, [&policy](const smtp::Mailbox& rcpt) { return policy.route(rcpt); }, &remote);

        net::Server server(cfg, policy, queue);
        queue.start();
        // After start(): the queue holds the spool lock, so the socket in it is ours to replace.
        auto control = std::make_unique<net::ControlServer>(config::control_socket_path(cfg), queue);
        observe::info("started", {{"version", EHLO_VERSION}, {"config", options.config_file.empty() ? "embedded" : options.config_file}});
        server.run();
        control.reset();
        remote.drain();  // nothing new goes on the wire; what is there may finish
        queue.stop();
        remote.stop();
        resolver.stop();
    } catch (const std::exception& e) {
        observe::error("fatal", {{"error", e.what()}});
        std::cerr << "ehlo: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace ehlo::cli

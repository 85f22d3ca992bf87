#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/privileges.hpp"
#include "config/config.hpp"
#include "delivery/forwarding_transport.hpp"
#include "delivery/lmtp_delivery.hpp"
#include "delivery/remote_delivery.hpp"
#include "delivery/resolver.hpp"
#include "net/console.hpp"
#include "net/control_server.hpp"
#include "msgauth/crypto.hpp"
#include "msgauth/dkim_sign.hpp"
#include "msgauth/dns_cache.hpp"
#include "msgauth/public_suffix.hpp"
#include "msgauth/resolver_dns.hpp"
#include "msgauth/work_pool.hpp"
#include "net/pickup.hpp"
#include "net/reception_auth.hpp"
#include "net/server.hpp"
#include "net/tls_context.hpp"
#include "observe/ehlo_metrics.hpp"
#include "observe/history.hpp"
#include "observe/metrics.hpp"
#include "observe/log.hpp"
#include "policy/auth_service.hpp"
#include "policy/credentials.hpp"
#include "policy/policy.hpp"
#include "queue/queue.hpp"

namespace ehlo::cli {
namespace {

// The first line of `file`, without its line end and surrounding blanks.
std::string read_console_token(const std::string& file) {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("[console] token_file " + file + ": cannot be read");
    std::string line;
    std::getline(in, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.erase(0, 1);
    return line;
}

// AUTH requests waiting for a hashing thread; beyond, 454 4.7.0 (a flood must not queue
// minutes of work).
constexpr std::size_t kMaxPendingAuth = 256;

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

// syncfs(2) says nothing of lost write-back before Linux 5.8: there, "250 only when it is on
// disk" needs fdatasync/fsync, whatever the configuration asks.
queue::SyncMode safe_sync_mode(queue::SyncMode wanted) {
    if (wanted != queue::SyncMode::Syncfs) return wanted;
    utsname u{};
    const std::string release = ::uname(&u) == 0 ? u.release : "";
    if (delivery::syncfs_reports_errors(release)) return wanted;
    observe::warn("sync-fallback", {{"kernel", release}, {"configured", "syncfs"}, {"using", "fsync"},
                                    {"note", "syncfs(2) reports write-back errors only since Linux 5.8"}});
    return queue::SyncMode::Fsync;
}

// [[msgauth.sign]]: each key read now (as root; the files are 0600), checked to be one that may
// sign (RFC 8301 3.2: RSA of 2048 bits or more). A key that cannot be used stops the start.
std::map<std::string, std::vector<msgauth::DkimSigningKey>> signing_keys(const config::Config& cfg) {
    std::map<std::string, std::vector<msgauth::DkimSigningKey>> out;
    for (const auto& k : cfg.msgauth.sign) {
        std::ifstream in(k.key_file, std::ios::binary);
        std::stringstream pem;
        pem << in.rdbuf();
        std::string error;
        auto key = in ? msgauth::private_key_from_pem(pem.str(), &error) : std::nullopt;
        if (!key) throw std::runtime_error("[[msgauth.sign]] " + k.key_file + ": " + (in ? error : "cannot read"));
        msgauth::DkimSigningKey signing{k.domain, k.selector, *key};
        msgauth::DkimSigner check({signing});  // throws for a key too weak to sign
        out[k.domain].push_back(std::move(signing));
        observe::info("dkim-key", {{"domain", k.domain}, {"selector", k.selector}, {"type", msgauth::key_type_name(key->type)}});
    }
    return out;
}

// [msgauth] arc_domain: the first [[msgauth.sign]] key of that domain seals.
std::optional<msgauth::DkimSigningKey> arc_key(const config::Config& cfg,
                                               const std::map<std::string, std::vector<msgauth::DkimSigningKey>>& keys) {
    if (cfg.msgauth.arc_domain.empty()) return std::nullopt;
    const auto it = keys.find(cfg.msgauth.arc_domain);
    if (it == keys.end() || it->second.empty()) return std::nullopt;
    return it->second.front();
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
    // Nothing the daemon makes is for others: files it creates are 0600 at most, folders 0700.
    ::umask(077);

    try {
        // Started as root: the account to become once the listeners are bound (checked first,
        // so that a missing user stops the start before anything is made as root).
        const std::optional<RunAs> run_as = account_to_run_as(cfg);
        policy::Policy policy(cfg);
        // What /metrics shows: counted by the sessions, the queue and the deliveries.
        observe::metrics::Registry registry;
        observe::EhloMetrics metrics(registry);

        // Message authentication's threads: the DNS answers and the signature work land there.
        // Made before the resolver, whose answers it takes; stopped (StopPool below) before the
        // server's loops and what its work uses go.
        msgauth::WorkPool msgauth_pool(cfg.msgauth.threads);

        // Onward delivery: DNS (libunbound on its own thread) and the SMTP client (its own loop).
        delivery::ResolverOptions ro;
        ro.forwarders = cfg.dns.forwarders;
        ro.timeout = std::chrono::seconds(cfg.dns.timeout);
        ro.dnssec = cfg.dns.dnssec;
        ro.forward_loopback_reverse = cfg.dns.forward_loopback_reverse;
        ro.local_names = {cfg.server.hostname};
        delivery::Resolver resolver(ro);

        // SPF, DKIM keys and DMARC records through the same resolver, each answer kept for its
        // TTL; the organisational domains from Debian's public suffix list (package publicsuffix).
        std::string psl_error;
        const msgauth::PublicSuffixList psl =
            cfg.msgauth.verify ? msgauth::load_public_suffix_list(msgauth::kPublicSuffixFile, &psl_error) : msgauth::PublicSuffixList{};
        if (!psl_error.empty())
            observe::warn("msgauth-psl", {{"error", psl_error}, {"note", "DMARC takes the last two labels as the organisational domain"}});
        msgauth::ResolverDns msgauth_resolver(resolver, [&msgauth_pool](std::function<void()> f) { msgauth_pool.post(std::move(f)); });
        msgauth::DnsCache msgauth_cache;
        const auto started = std::chrono::steady_clock::now();
        const auto seconds_running = [started] {
            return static_cast<std::int64_t>(
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count());
        };
        msgauth::CachingDnsLookup msgauth_dns(msgauth_resolver, msgauth_cache, seconds_running);
        // Clients' names (PTR, then A/AAAA) through the same resolver and cache; each
        // connection posts its answer to its own loop, with no worker thread in between.
        msgauth::ResolverDns client_name_resolver(resolver);
        msgauth::CachingDnsLookup client_name_dns(client_name_resolver, msgauth_cache, seconds_running);
        auto dkim_keys = signing_keys(cfg);
        auto seal_key = arc_key(cfg, dkim_keys);
        const net::MsgauthService msgauth_service{
            msgauth_dns, psl, [&msgauth_pool](std::function<void()> f) { msgauth_pool.post(std::move(f)); }, cfg.msgauth,
            cfg.msgauth.authserv_id.empty() ? cfg.server.hostname : cfg.msgauth.authserv_id, std::move(dkim_keys),
            std::move(seal_key), std::chrono::seconds(std::max(5u, 3 * cfg.dns.timeout))};
        delivery::RemoteOptions rmo;
        rmo.helo_name = cfg.outbound.helo_name.empty() ? cfg.server.hostname : cfg.outbound.helo_name;
        rmo.max_connections = cfg.outbound.connections;
        rmo.max_connections_per_destination = cfg.outbound.connections_per_destination;
        rmo.max_messages_per_connection = cfg.outbound.messages_per_connection;
        rmo.connect_timeout = std::chrono::seconds(cfg.outbound.connect_timeout);
        rmo.timeout_scale = cfg.outbound.timeout_scale;
        rmo.metrics = &metrics;
        // CA files for `verify` destinations are read now, not on the delivery loop.
        if (!cfg.outbound.tls_ca_file.empty()) rmo.tls_ca_files.push_back(cfg.outbound.tls_ca_file);
        for (const auto& route : cfg.routes)
            if (!route.tls_ca_file.empty()) rmo.tls_ca_files.push_back(route.tls_ca_file);
        delivery::RemoteDelivery remote(rmo, resolver);
        // Mailboxes of domains with an LMTP server (Dovecot): LMTP jobs of the same queue.
        delivery::LmtpOptions lmo;
        lmo.lhlo_name = rmo.helo_name;
        lmo.connect_timeout = rmo.connect_timeout;
        lmo.timeout_scale = rmo.timeout_scale;
        lmo.max_messages_per_connection = rmo.max_messages_per_connection;
        delivery::LmtpDelivery lmtp(lmo);
        delivery::TransportSwitch transports(remote, lmtp);
        // Mail an alias of ours forwards to another domain carries the SRS form of its sender.
        delivery::ForwardingTransport forwarding(
            transports, [&policy](const std::optional<smtp::Mailbox>& sender) { return policy.forward_sender(sender); });

        // The history of every message (ehlo trace): its own writer thread; advisory.
        std::unique_ptr<observe::History> history;
        if (cfg.history.enabled) {
            observe::HistoryOptions ho;
            ho.path = config::history_path(cfg).string();
            ho.retention_days = cfg.history.retention;
            history = std::make_unique<observe::History>(ho);  // started with the queue, in its spool
        }

        queue::QueueOptions qo;
        qo.history = history.get();
        qo.metrics = &metrics;
        if (history) metrics.watch(*history);
        qo.spool_dir = cfg.spool.path;
        qo.sync = safe_sync_mode(cfg.spool.sync);
        qo.min_free = cfg.spool.min_free;
        qo.hostname = cfg.server.hostname;
        qo.retry_min = std::chrono::seconds(cfg.delivery.retry_min);
        qo.retry_max = std::chrono::seconds(cfg.delivery.retry_max);
        qo.lifetime = std::chrono::seconds(cfg.delivery.lifetime);
        qo.delay_warning = std::chrono::seconds(cfg.delivery.delay_warning);
        qo.max_received = cfg.delivery.max_received;
        qo.active_messages = cfg.delivery.active_messages;
        qo.active_recipients = cfg.delivery.active_recipients;
        qo.null_sender_failures_to = config::failure_notice_address(cfg);
        queue::Queue queue(qo, [&policy](const smtp::Mailbox& rcpt) { return policy.route(rcpt); }, &forwarding);

        // Certificates are read once here, and again on SIGHUP or `ehlo reload`.
        std::vector<net::CertificateFiles> certificates;
        for (const auto& c : cfg.tls.certificates) certificates.push_back({c.chain, c.key});
        if (certificates.empty() && !options.self_signed_dir.empty()) {
            const std::string base = (std::filesystem::path(options.self_signed_dir) / cfg.server.hostname).string();
            net::CertificateFiles files{base + ".pem", base + ".key"};
            // Made by root, read again after the drop (SIGHUP): the folder (and those made for
            // it) and the files are the daemon's.
            if (run_as) hand_over_directory(options.self_signed_dir, *run_as);
            const bool created = net::ensure_self_signed(cfg.server.hostname, files);
            observe::warn("tls-self-signed", {{"host", cfg.server.hostname}, {"chain", files.chain}, {"key", files.key},
                                              {"created", created ? "now" : "before"},
                                              {"note", "clients cannot verify it; set [tls] certificates for real use"}});
            if (run_as) hand_over_directory(options.self_signed_dir, *run_as);
            certificates.push_back(std::move(files));
        }
        std::unique_ptr<net::TlsContexts> tls;
        if (!certificates.empty()) tls = std::make_unique<net::TlsContexts>(std::move(certificates));

        // AUTH: the users file, read again when it changes, and the hashing threads.
        std::unique_ptr<policy::Credentials> credentials;
        std::unique_ptr<policy::AuthService> auth;
        if (!cfg.auth.users_file.empty()) {
            struct stat st {};
            if (::stat(cfg.auth.users_file.c_str(), &st) == 0 && (st.st_mode & 077))
                observe::warn("users-file-mode", {{"file", cfg.auth.users_file}, {"note", "readable by others: chmod 600"}});
            credentials = std::make_unique<policy::Credentials>(cfg.auth.users_file, cfg.auth.bind_sender);
            policy::AuthLimiter::Settings limits;
            limits.max_failures = cfg.auth.max_failures;
            limits.lockout = std::chrono::seconds(cfg.auth.lockout);
            limits.delay_per_failure = std::chrono::seconds(cfg.auth.failure_delay);
            limits.max_delay = std::chrono::seconds(cfg.auth.failure_delay) * 5;
            auth = std::make_unique<policy::AuthService>(*credentials, limits, cfg.auth.threads, kMaxPendingAuth);
        }

        // The console's token, read now (as root, like the keys): one line, 32 characters or more.
        std::string console_token;
        if (cfg.console.enabled && cfg.console.tls && !cfg.console.token_file.empty()) {
            console_token = read_console_token(cfg.console.token_file);
            if (console_token.size() < 32)
                throw std::runtime_error("[console] token_file " + cfg.console.token_file +
                                         ": the token must be one line of at least 32 characters");
        }
        if (cfg.console.enabled && cfg.console.tls && !tls)
            throw std::runtime_error("[console] tls = true needs certificates: set [tls] certificates (or start with --self-signed DIR)");

        // Keys and the users file were read above, as root; the spool and Maildirs the daemon
        // writes become its user's before it binds (ports below 1024 need root) and drops.
        // Local submission is a convenience beside SMTP: folders it cannot make (a parent the
        // daemon may not write) leave it off, with the reason, and mail still flows.
        bool local_submission = cfg.sendmail.enabled;
        if (local_submission) {
            try {
                make_submission_folders(cfg, run_as);
            } catch (const std::exception& e) {
                local_submission = false;
                observe::warn("sendmail-unavailable", {{"error", e.what()},
                                                       {"note", "local submission is off; set [sendmail] maildrop and socket"}});
            }
        }
        if (run_as) hand_over_state(cfg, *run_as);
        net::Server server(cfg, policy, queue, tls.get(), auth.get(), &metrics, history.get());
        server.verify_with(&msgauth_service);
        if (cfg.dns.client_names) server.name_clients_with(&client_name_dns);
        // The pool's work ends by posting to the server's loops: it stops before they go (and
        // before what it reads, declared above).
        struct StopPool {
            msgauth::WorkPool& pool;
            ~StopPool() { pool.stop(); }
        } stop_pool{msgauth_pool};
        if (run_as) drop_privileges(*run_as);
        observe::info("privileges", {{"user", run_as ? run_as->user : "(as started)"},
                                     {"uid", std::to_string(::getuid())},
                                     {"gid", std::to_string(::getgid())},
                                     {"dropped", run_as ? "yes" : "no: not started as root"}});
        for (const auto& file : files_read_again(cfg))
            if (!readable_now(file))
                observe::warn("unreadable-file", {{"file", file.string()},
                                                  {"note", "read again on reload or change, and this user cannot: "
                                                           "make it readable by ehlo's user or group (chgrp, chmod 640)"}});
        // SIGHUP and `ehlo reload` read the alias files again too; a bad one keeps the table in
        // use (policy logs the file, the line and the problem).
        server.also_reload([&policy]() -> std::optional<std::string> {
            if (policy.reload_aliases()) return std::nullopt;
            return "aliases: a file has a problem (the table read before stays; see the log)";
        });
        // A maildrop file whose message the spool holds already is not taken twice.
        if (local_submission) net::settle_maildrop(config::maildrop_path(cfg), cfg.spool.path);
        queue.start();
        if (history) history->start();
        // After start(): the queue holds the spool lock, so the socket in it is ours to replace.
        std::optional<unsigned> control_group;
        if (!cfg.control.group.empty()) control_group = group_id(cfg.control.group);
        auto control = std::make_unique<net::ControlServer>(config::control_socket_path(cfg), queue,
                                                            [&server] { return server.reload(); }, control_group);
        // Local submission (`ehlo sendmail`): what waits in the maildrop is taken now.
        std::unique_ptr<net::Pickup> pickup;
        if (local_submission) {
            try {
                pickup = std::make_unique<net::Pickup>(net::pickup_options(cfg), queue, policy);
            } catch (const std::system_error& e) {
                observe::warn("sendmail-unavailable", {{"error", e.what()}, {"note", "local submission is off"}});
            }
        }
        // The console after the queue: its pages read the queue.
        // "Talk SMTP" talks to the first plaintext listener: the page shows what SMTP looks like
        // before TLS, and its own connection is on loopback.
        net::Console console(queue, registry, metrics, cfg.server.hostname,
                             cfg.history.enabled ? config::history_path(cfg).string() : std::string{},
                             cfg.server.listen.empty() ? std::nullopt
                                                       : std::optional<config::ListenAddress>(cfg.server.listen.front()));
        std::unique_ptr<net::ConsoleServer> console_server;
        if (cfg.console.enabled && cfg.console.tls) {
            console.open_to_network();
            policy::AuthLimiter::Settings guesses;
            guesses.max_failures = cfg.auth.max_failures;
            guesses.lockout = std::chrono::seconds(cfg.auth.lockout);
            guesses.delay_per_failure = std::chrono::seconds(cfg.auth.failure_delay);
            guesses.max_delay = std::chrono::seconds(cfg.auth.failure_delay) * 5;
            console_server = std::make_unique<net::ConsoleServer>(cfg.console.listen, console, tls.get(),
                                                                  net::ConsoleLogin{console_token, auth.get(), guesses});
        } else if (cfg.console.enabled) {
            console_server = std::make_unique<net::ConsoleServer>(cfg.console.listen, console);
        }
        observe::info("started", {{"version", EHLO_VERSION}, {"config", options.config_file.empty() ? "embedded" : options.config_file}});
        server.run();
        msgauth_pool.stop();
        console_server.reset();
        pickup.reset();
        control.reset();
        remote.drain();  // nothing new goes on the wire; what is there may finish
        queue.stop();
        remote.stop();
        lmtp.stop();
        resolver.stop();
        if (history) history->stop();  // what the queue recorded last is written
    } catch (const std::exception& e) {
        observe::error("fatal", {{"error", e.what()}});
        observe::shutdown();
        std::cerr << "ehlo: " << e.what() << "\n";
        return 1;
    }
    observe::shutdown();
    return 0;
}

}  // namespace ehlo::cli

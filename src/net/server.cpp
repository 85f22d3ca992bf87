// Listeners, signals, reload and stopping; one connection's life is in server_connection.cpp.
// With server_connection.cpp and delivery's client on the wire, one of the few translation
// units that include Asio.
//
// Shape: N worker threads, each running one io_context (one event loop per core). Listeners
// live on worker 0 and hand each accepted socket to the workers in turn; every connection is
// then one coroutine on its worker, reading only when the socket is readable (no per-connection
// read buffer while idle: the bytes go into one buffer per thread), feeding the sans-I/O
// smtp::Session, and writing what it answers. Nothing here blocks: the queue makes messages
// durable on its own threads and posts the verdict back to the connection's loop.
//
// TLS (RFC 3207 STARTTLS, RFC 8314 implicit TLS) is Asio's ssl::stream over the connection's
// socket, made from an SSL that tls_context.cpp configured. The handshake runs on the
// connection's own loop with Asio's async_handshake: its CPU cost (one ECDHE and one signature,
// about a millisecond with RSA-2048, less with ECDSA) stalls the other sessions of that loop
// by that much, once per connection, far below any SMTP timeout; handing each step of the
// handshake to another thread would cost more than it saves. A bounded handshake_timeout and
// the connection limits keep a flood of slow handshakes from holding anything else.
#include "net/server_impl.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::net {

void Server::Impl::bind_listeners() {
    auto& io = workers.front()->io;
    for (const auto& l : config::all_listeners(config)) {
        auto listener = std::make_unique<Listener>(io);
        listener->kind = l.kind;
        listener->session = session_config;
        const bool implicit = l.kind == config::ListenerKind::Submissions;
        listener->session.starttls_available = tls != nullptr && !implicit;
        // RFC 6409 4.3 and RFC 8314 3.3: submission is for authenticated users, over TLS.
        listener->session.require_tls = l.kind == config::ListenerKind::Submission;
        listener->session.require_auth = l.kind != config::ListenerKind::Smtp;
        listener->session.auth_available = auth != nullptr;
        asio::error_code ec;
        auto address = asio::ip::make_address(l.address.host, ec);
        std::string where = l.address.host + ":" + std::to_string(l.address.port);
        if (address.is_v6()) where = "[" + l.address.host + "]:" + std::to_string(l.address.port);
        listener->where = where;
        if (ec) throw std::system_error(ec, "listen address " + where);
        if (l.kind != config::ListenerKind::Smtp && !tls)
            throw std::runtime_error("listener " + where + " (" + kind_name(l.kind) +
                                     ") needs a TLS certificate: [tls] certificates");
        tcp::endpoint ep(address, l.address.port);
        tcp::acceptor& a = listener->acceptor;
        a.open(ep.protocol(), ec);
        if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && address.is_v6()) a.set_option(asio::ip::v6_only(true), ec);
        if (!ec) a.bind(ep, ec);
        if (!ec) a.listen(kListenBacklog, ec);
        if (ec) throw std::system_error(ec, "cannot listen on " + where);
        observe::info("listening", {{"address", where}, {"kind", kind_name(l.kind)},
                                    {"tls", implicit ? "implicit" : (tls ? "starttls" : "none")}});
        listeners.push_back(std::move(listener));
    }
}

asio::awaitable<void> Server::Impl::accept_loop(Listener& listener) {
    tcp::acceptor& acceptor = listener.acceptor;
    while (!stopping) {
        // Round robin: the new socket belongs to the next worker's event loop from the start.
        Worker& w = *workers[next_worker++ % workers.size()];
        auto [ec, socket] = co_await acceptor.async_accept(w.io, use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ec == asio::error::connection_aborted) continue;  // the client gave up first
            // Out of descriptors or memory: back off instead of spinning on a full backlog.
            observe::warn("accept-error", {{"error", ec.message()}});
            asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(100));
            co_await t.async_wait(use_tuple);
            continue;
        }
        asio::co_spawn(w.io, serve(w, std::move(socket), listener), asio::detached);
    }
}


void Server::Impl::stop_worker(Worker& w) {
    for (auto& weak : w.connections) {
        auto c = weak.lock();
        if (!c || c->closed) continue;
        // The session defers its 421 until a message being committed has had its answer.
        c->session->shutdown();
        if (c->session->awaiting_host()) continue;
        c->write_now();
        c->close();
    }
}

void Server::Impl::begin_stop() {
    if (stopping.exchange(true)) return;
    observe::info("stopping", {});
    asio::post(workers.front()->io, [this] {
        asio::error_code ec;
        signals.cancel(ec);
        for (auto& l : listeners) l->acceptor.close(ec);
    });
    for (auto& w : workers) {
        Worker* wp = w.get();
        asio::post(wp->io, [this, wp] {
            stop_worker(*wp);
            // Sessions waiting on a commit get a bounded time; then the loop ends regardless.
            auto t = std::make_shared<asio::steady_timer>(wp->io, kShutdownGrace);
            t->async_wait([wp, t](asio::error_code) { wp->io.stop(); });
            // Stop as soon as the last connection is gone.
            auto poll = std::make_shared<std::function<void()>>();
            auto timer = std::make_shared<asio::steady_timer>(wp->io);
            // The pending wait owns the poll; the poll itself holds only a weak reference, so
            // nothing is left in a cycle once the loop stops.
            *poll = [wp, timer, self = std::weak_ptr<std::function<void()>>(poll)] {
                bool open = false;
                for (auto& weak : wp->connections)
                    if (auto c = weak.lock(); c && !c->closed) open = true;
                if (!open) return wp->io.stop();
                timer->expires_after(std::chrono::milliseconds(20));
                timer->async_wait([next = self.lock()](asio::error_code) {
                    if (next) (*next)();
                });
            };
            (*poll)();
        });
    }
}

std::optional<std::string> Server::Impl::reload() {
    // Each part is read again whatever became of the other; the answer names every failure.
    const std::optional<std::string> others = also_reload ? also_reload() : std::nullopt;
    const std::optional<std::string> own = reload_certificates_and_users();
    if (others && own) return *others + "; " + *own;
    return others ? others : own;
}

std::optional<std::string> Server::Impl::reload_certificates_and_users() {
    if (auth) {
        if (auto failure = auth->credentials().refresh(true)) {
            observe::error("reload-failed", {{"what", "users"}, {"error", *failure}, {"kept", "the users read before"}});
            return "users: " + *failure + " (the users read before stay)";
        }
        observe::info("reloaded", {{"what", "users"}});
    }
    if (!tls) return std::nullopt;
    if (auto failure = tls->reload()) {
        observe::error("reload-failed", {{"what", "tls"}, {"error", *failure}, {"kept", "the certificates loaded before"}});
        return "certificates: " + *failure + " (the ones loaded before stay in use)";
    }
    std::string names;
    for (const auto& n : tls->names()) names += (names.empty() ? "" : ",") + n;
    observe::info("reloaded", {{"what", "tls"}, {"names", names}});
    return std::nullopt;
}

void Server::Impl::wait_signal() {
    signals.async_wait([this](asio::error_code ec, int sig) {
        if (ec) return;
        observe::info("signal", {{"signal", sig}});
        if (sig == SIGHUP) {
            {
                std::lock_guard lock(reload_mutex);
                reload_wanted = true;
            }
            reload_cv.notify_one();
            return wait_signal();
        }
        begin_stop();
    });
}

Server::Server(const config::Config& config, const policy::Policy& policy, queue::Queue& queue, TlsContexts* tls,
               policy::AuthService* auth, observe::EhloMetrics* metrics, observe::History* history) {
    unsigned threads = config.server.threads ? config.server.threads : std::max(1u, std::thread::hardware_concurrency());
    // `ehlo serve` has filled in the system's host name when the configuration left it empty.
    std::string hostname = config.server.hostname.empty() ? "localhost" : config.server.hostname;
    impl_ = std::make_unique<Impl>(config, policy, queue, tls, auth, hostname, threads);
    impl_->metrics = metrics;
    impl_->history = history;
    auto& sc = impl_->session_config;
    sc.hostname = hostname;
    sc.max_message_size = config.limits.message_size;
    sc.max_recipients = config.limits.recipients;
    sc.max_errors = config.limits.errors;
    sc.max_junk_commands = config.limits.junk_commands;
    sc.vrfy = config.smtp.vrfy;
    sc.dsn = config.smtp.dsn;
    impl_->bind_listeners();
}

Server::~Server() = default;

void Server::also_reload(std::function<std::optional<std::string>()> hook) { impl_->also_reload = std::move(hook); }

void Server::verify_with(const MsgauthService* service) { impl_->msgauth = service; }

void Server::name_clients_with(msgauth::DnsLookup* dns) { impl_->client_names = dns; }

void Server::run() {
    auto& d = *impl_;
    d.wait_signal();
    d.reloader = std::thread([&d] {
        observe::name_this_thread("ehlo-reload");
        std::unique_lock lock(d.reload_mutex);
        for (;;) {
            d.reload_cv.wait(lock, [&d] { return d.reload_wanted || d.reload_quit; });
            if (d.reload_quit) return;
            d.reload_wanted = false;
            lock.unlock();
            observe::info("reload", {{"signal", "SIGHUP"}});
            d.reload();
            lock.lock();
        }
    });
    for (auto& l : d.listeners) asio::co_spawn(d.workers.front()->io, d.accept_loop(*l), asio::detached);
    // Every loop keeps running while idle: a guard per worker, dropped by io.stop() at the end.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& w : d.workers) guards.push_back(asio::make_work_guard(w->io));
    for (std::size_t i = 1; i < d.workers.size(); ++i) {
        Worker* w = d.workers[i].get();
        w->thread = std::thread([w] {
            observe::name_this_thread("ehlo-smtp");
            w->io.run();
        });
    }
    d.workers.front()->io.run();
    for (std::size_t i = 1; i < d.workers.size(); ++i) d.workers[i]->thread.join();
    {
        std::lock_guard lock(d.reload_mutex);
        d.reload_quit = true;
    }
    d.reload_cv.notify_one();
    d.reloader.join();
    observe::info("stopped", {});
}

void Server::stop() { impl_->begin_stop(); }

std::optional<std::string> Server::reload() { return impl_->reload(); }

}  // namespace ehlo::net
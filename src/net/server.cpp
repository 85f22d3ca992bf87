// Listeners and connections. The only translation unit that includes Asio.
//
// Shape: N worker threads, each running one io_context (one event loop per core). Listeners
// live on worker 0 and hand each accepted socket to the workers in turn; every connection is
// then one coroutine on its worker, reading only when the socket is readable (no per-connection
// read buffer while idle: the bytes go into one buffer per thread), feeding the sans-I/O
// smtp::Session, and writing what it answers. Nothing here blocks: the queue makes messages
// durable on its own threads and posts the verdict back to the connection's loop.
#include "net/server.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <list>
#include <thread>

#include "net/session_host.hpp"
#include "observe/log.hpp"
#include "policy/connection_limiter.hpp"
#include "smtp/session.hpp"

namespace ehlo::net {
namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// Connections accepted and not yet closed are kept waiting by the kernel up to this many.
constexpr int kListenBacklog = 4096;
// How long a stopping server waits for sessions in the middle of a commit.
constexpr auto kShutdownGrace = std::chrono::seconds(10);
// Read at most this much per readiness event; one buffer per thread, shared by its sessions.
constexpr std::size_t kReadChunk = 64 * 1024;
// How often a session held back by a slow disk looks again.
constexpr auto kBackPressurePause = std::chrono::milliseconds(2);
// A connection we close while the client may still be sending (a refused oversized BDAT
// chunk, too many errors) is half-closed first and drained for a moment: closing a socket with
// unread input sends a RST, which can destroy our last replies before the client reads them.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 1 << 20;

std::string client_address(const tcp::endpoint& ep) {
    auto a = ep.address();
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
    return a.to_string();
}

std::string new_session_id() {
    // Unique across restarts: the start time in the high bits, a counter in the low ones.
    static std::atomic<std::uint64_t> next{static_cast<std::uint64_t>(std::time(nullptr)) << 24};
    char buf[17];
    std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(next.fetch_add(1)));
    return buf;
}

struct Worker;

struct Connection : std::enable_shared_from_this<Connection> {
    explicit Connection(tcp::socket s)
        : socket(std::move(s)), watchdog(socket.get_executor()), wake(socket.get_executor()) {}

    tcp::socket socket;
    asio::steady_timer watchdog;  // closes the connection when `deadline` passes (RFC 5321 4.5.3.2)
    asio::steady_timer wake;      // cancelled when the queue's verdict arrives
    Clock::time_point deadline = Clock::time_point::max();
    // The overall limit of the message being received (limits.data_total_timeout).
    Clock::time_point message_deadline = Clock::time_point::max();
    bool peer_gone = false;  // end of stream or an error seen: nothing left to drain
    std::string address;
    bool admitted = false;
    bool writing = false;
    bool closed = false;
    std::unique_ptr<SessionHost> host;
    std::unique_ptr<smtp::Session> session;

    void close() {
        if (closed) return;
        closed = true;
        asio::error_code ec;
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
        watchdog.cancel();
        wake.cancel();
    }

    // Best effort, without waiting: used for a last 421 when the connection is being closed by
    // us (timeout, shutdown) and no write is in flight.
    void write_now() {
        std::string out = session->take_output();
        if (out.empty() || writing || closed) return;
        asio::error_code ec;
        socket.non_blocking(true, ec);
        asio::write(socket, asio::buffer(out), ec);
    }
};

struct Worker {
    std::thread thread;
    std::list<std::weak_ptr<Connection>> connections;
    // Last member: destroyed first, so coroutines it still holds go before the list they use.
    asio::io_context io{1};
};

}  // namespace

struct Server::Impl {
    const config::Config& config;
    const policy::Policy& policy;
    queue::Queue& queue;
    smtp::SessionConfig session_config;
    std::string hostname;
    policy::ConnectionLimiter limiter;
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<tcp::acceptor> acceptors;  // on workers[0]
    std::atomic<std::size_t> next_worker{0};
    std::atomic<bool> stopping{false};
    asio::signal_set signals;

    Impl(const config::Config& c, const policy::Policy& p, queue::Queue& q, std::string host, unsigned threads)
        : config(c),
          policy(p),
          queue(q),
          hostname(std::move(host)),
          limiter(c.limits.connections, c.limits.connections_per_client),
          workers(make_workers(threads)),
          signals(workers.front()->io, SIGINT, SIGTERM) {}

    std::vector<std::unique_ptr<Worker>> make_workers(unsigned n) {
        std::vector<std::unique_ptr<Worker>> v;
        for (unsigned i = 0; i < n; ++i) v.push_back(std::make_unique<Worker>());
        return v;
    }

    void bind_listeners();
    asio::awaitable<void> accept_loop(tcp::acceptor& acceptor);
    asio::awaitable<void> serve(Worker& w, tcp::socket socket);
    // Writes `out` and whatever else the session has to say.
    asio::awaitable<void> flush(std::shared_ptr<Connection> c, std::string out = {});
    // Half-closes a connection the server ended and reads what the client still sends, within
    // kLingerTime and kLingerBytes, so that the client reads our last reply before the close.
    asio::awaitable<void> linger(std::shared_ptr<Connection> c);
    void arm_watchdog(const std::shared_ptr<Connection>& c);
    void begin_stop();
    void stop_worker(Worker& w);
};

void Server::Impl::bind_listeners() {
    auto& io = workers.front()->io;
    for (const auto& l : config.server.listen) {
        asio::error_code ec;
        auto address = asio::ip::make_address(l.host, ec);
        std::string where = l.host + ":" + std::to_string(l.port);
        if (ec) throw std::system_error(ec, "listen address " + where);
        tcp::endpoint ep(address, l.port);
        tcp::acceptor a(io);
        a.open(ep.protocol(), ec);
        if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
        if (!ec && address.is_v6()) a.set_option(asio::ip::v6_only(true), ec);
        if (!ec) a.bind(ep, ec);
        if (!ec) a.listen(kListenBacklog, ec);
        if (ec) throw std::system_error(ec, "cannot listen on " + where);
        observe::info("listening", {{"address", where}});
        acceptors.push_back(std::move(a));
    }
}

asio::awaitable<void> Server::Impl::accept_loop(tcp::acceptor& acceptor) {
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
        asio::co_spawn(w.io, serve(w, std::move(socket)), asio::detached);
    }
}

void Server::Impl::arm_watchdog(const std::shared_ptr<Connection>& c) {
    // The message's overall limit applies only while its content is coming in (not while the
    // queue commits it: then the client waits for us).
    const bool in_message = c->session && c->session->in_message();
    c->watchdog.expires_at(in_message ? std::min(c->deadline, c->message_deadline) : c->deadline);
    c->watchdog.async_wait([this, c](asio::error_code ec) {
        if (ec || c->closed) return;
        const auto now = Clock::now();
        if (now >= c->message_deadline && c->session->in_message()) {
            c->session->message_timeout();
        } else if (now >= c->deadline) {
            c->session->timeout();
        } else {
            return arm_watchdog(c);  // activity moved the deadline
        }
        c->write_now();
        c->close();
    });
}

asio::awaitable<void> Server::Impl::linger(std::shared_ptr<Connection> c) {
    asio::error_code ec;
    c->socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    // The watchdog ends the wait: the session is over, so it only has to close.
    c->deadline = Clock::now() + kLingerTime;
    c->message_deadline = Clock::time_point::max();
    c->watchdog.expires_at(c->deadline);
    c->watchdog.async_wait([c](asio::error_code e) {
        if (!e) c->close();
    });
    thread_local std::vector<char> sink(kReadChunk);
    std::size_t drained = 0;
    while (!c->closed && drained < kLingerBytes) {
        auto [wait_ec] = co_await c->socket.async_wait(tcp::socket::wait_read, use_tuple);
        if (wait_ec || c->closed) break;
        const std::size_t n = c->socket.read_some(asio::buffer(sink), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
        if (ec) break;
        drained += n;
    }
}

asio::awaitable<void> Server::Impl::flush(std::shared_ptr<Connection> c, std::string out) {
    out += c->session->take_output();
    while (!out.empty() && !c->closed) {
        c->writing = true;
        auto [ec, n] = co_await asio::async_write(c->socket, asio::buffer(out), use_tuple);
        c->writing = false;
        if (ec) {
            c->close();
            break;
        }
        out = c->session->take_output();
    }
}

asio::awaitable<void> Server::Impl::serve(Worker& w, tcp::socket socket) {
    asio::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    if (ec) co_return;
    socket.set_option(tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);

    auto c = std::make_shared<Connection>(std::move(socket));
    c->address = client_address(peer);
    smtp::ClientInfo client{c->address, peer.port(), false};
    std::weak_ptr<Connection> weak = c;
    auto executor = c->socket.get_executor();
    c->host = std::make_unique<SessionHost>(
        new_session_id(), client, hostname, policy, queue, [weak, executor](smtp::Reply reply) {
            asio::post(executor, [weak, reply = std::move(reply)] {
                auto conn = weak.lock();
                if (!conn || conn->closed) return;
                conn->session->message_done(reply);
                conn->wake.cancel();
            });
        });
    c->session = std::make_unique<smtp::Session>(session_config, client, *c->host);
    c->host->attach(*c->session);
    auto it = w.connections.insert(w.connections.end(), c);
    // Runs however the coroutine ends (also by an exception or the loop's destruction), so a
    // connection slot is never leaked.
    struct Departure {
        Server::Impl& server;
        Worker& worker;
        std::list<std::weak_ptr<Connection>>::iterator entry;
        std::shared_ptr<Connection> connection;
        ~Departure() {
            connection->close();
            if (connection->admitted) server.limiter.release(connection->address);
            worker.connections.erase(entry);
        }
    } departure{*this, w, it, c};

    observe::info("connect", {{"session", c->host->session_id()}, {"client", c->address}, {"port", peer.port()}});
    auto verdict = limiter.admit(c->address);
    c->admitted = verdict == policy::ConnectionLimiter::Verdict::Admitted;
    // No EHLO yet, so the engine writes no enhanced code; these refusals carry theirs in the
    // text, as clients and Postfix expect at greeting ("421 4.7.0 ...", RFC 3463 X.7.0, X.3.2).
    if (stopping) {
        c->session->start_refused({421, "", "4.3.2 " + hostname + " Service shutting down"});
    } else if (verdict == policy::ConnectionLimiter::Verdict::TooManyTotal) {
        c->session->start_refused({421, "", "4.7.0 " + hostname + " Too many connections, try again later"});
    } else if (verdict == policy::ConnectionLimiter::Verdict::TooManyFromClient) {
        c->session->start_refused({421, "", "4.7.0 " + hostname + " Too many connections from your address"});
    } else {
        c->session->start();
    }
    const auto command_timeout = std::chrono::seconds(config.limits.command_timeout);
    const auto data_timeout = std::chrono::seconds(config.limits.data_timeout);
    const auto data_total_timeout = std::chrono::seconds(config.limits.data_total_timeout);
    c->deadline = Clock::now() + command_timeout;
    arm_watchdog(c);
    co_await flush(c);

    thread_local std::vector<char> buffer(kReadChunk);
    while (!c->closed && !c->session->wants_close()) {
        if (c->session->awaiting_host()) {
            // The queue is making the message durable; the client waits for our reply, so no
            // idle timeout runs meanwhile.
            c->deadline = Clock::time_point::max();
            c->message_deadline = Clock::time_point::max();
            c->wake.expires_at(Clock::time_point::max());
            co_await c->wake.async_wait(use_tuple);
            if (c->closed) break;
            if (!c->session->awaiting_host()) {
                c->deadline = Clock::now() + command_timeout;
                c->message_deadline = Clock::time_point::max();
                arm_watchdog(c);
            }
            co_await flush(c);
            continue;
        }
        auto [wait_ec] = co_await c->socket.async_wait(tcp::socket::wait_read, use_tuple);
        if (wait_ec || c->closed) break;
        std::size_t n = c->socket.read_some(asio::buffer(buffer), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
        if (ec) {
            c->peer_gone = true;
            c->session->peer_closed();
            break;
        }
        const bool was_in_message = c->session->in_message();
        c->session->receive(std::string_view(buffer.data(), n));
        // The idle timer restarts on progress, not on any byte: in command mode only a complete
        // command (which always gets a reply) counts, so a client trickling one byte a second
        // cannot hold a connection open (RFC 5321 4.5.3.2.7); message content counts as it flows.
        const bool in_message = c->session->in_message();
        if (in_message || was_in_message) c->deadline = Clock::now() + data_timeout;
        // The overall limit runs from the message's first octet to its last, however steadily
        // it flows: a client sending a byte every few seconds keeps no session for days.
        if (in_message && !was_in_message) {
            c->message_deadline = Clock::now() + data_total_timeout;
            arm_watchdog(c);
        } else if (!in_message) {
            c->message_deadline = Clock::time_point::max();
        }
        std::string replies = c->session->take_output();
        if (!replies.empty() && !c->session->in_message()) c->deadline = Clock::now() + command_timeout;
        co_await flush(c, std::move(replies));
        // Back-pressure: while the spool thread has not written this message's earlier chunks,
        // read no more of it (TCP flow control then slows the client down).
        while (!c->closed && c->host->backlogged()) {
            c->deadline = Clock::now() + data_timeout;
            asio::steady_timer pause(c->socket.get_executor(), kBackPressurePause);
            co_await pause.async_wait(use_tuple);
        }
    }
    co_await flush(c);
    if (!c->closed && !c->peer_gone) co_await linger(c);
    observe::info("disconnect", {{"session", c->host->session_id()}, {"client", c->address}});
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
        for (auto& a : acceptors) a.close(ec);
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
            *poll = [wp, timer, poll] {
                bool open = false;
                for (auto& weak : wp->connections)
                    if (auto c = weak.lock(); c && !c->closed) open = true;
                if (!open) return wp->io.stop();
                timer->expires_after(std::chrono::milliseconds(20));
                timer->async_wait([poll](asio::error_code) { (*poll)(); });
            };
            (*poll)();
        });
    }
}

Server::Server(const config::Config& config, const policy::Policy& policy, queue::Queue& queue) {
    unsigned threads = config.server.threads ? config.server.threads : std::max(1u, std::thread::hardware_concurrency());
    // `ehlo serve` has filled in the system's host name when the configuration left it empty.
    std::string hostname = config.server.hostname.empty() ? "localhost" : config.server.hostname;
    impl_ = std::make_unique<Impl>(config, policy, queue, hostname, threads);
    auto& sc = impl_->session_config;
    sc.hostname = hostname;
    sc.max_message_size = config.limits.message_size;
    sc.max_recipients = config.limits.recipients;
    sc.max_errors = config.limits.errors;
    sc.vrfy = config.smtp.vrfy;
    sc.dsn = config.smtp.dsn;
    impl_->bind_listeners();
}

Server::~Server() = default;

void Server::run() {
    auto& d = *impl_;
    d.signals.async_wait([&d](asio::error_code ec, int sig) {
        if (ec) return;
        observe::info("signal", {{"signal", sig}});
        d.begin_stop();
    });
    for (auto& a : d.acceptors) asio::co_spawn(d.workers.front()->io, d.accept_loop(a), asio::detached);
    // Every loop keeps running while idle: a guard per worker, dropped by io.stop() at the end.
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& w : d.workers) guards.push_back(asio::make_work_guard(w->io));
    for (std::size_t i = 1; i < d.workers.size(); ++i) {
        Worker* w = d.workers[i].get();
        w->thread = std::thread([w] { w->io.run(); });
    }
    d.workers.front()->io.run();
    for (std::size_t i = 1; i < d.workers.size(); ++i) d.workers[i]->thread.join();
    observe::info("stopped", {});
}

void Server::stop() { impl_->begin_stop(); }

}  // namespace ehlo::net

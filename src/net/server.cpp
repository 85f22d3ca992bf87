// Listeners and connections, TLS included. With control_server.cpp and delivery's
// remote_delivery.cpp, one of the few translation units that include Asio.
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
#include "net/server.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <list>
#include <mutex>
#include <thread>

#include "net/session_host.hpp"
#include "net/tls_context.hpp"
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
// Under TLS the reads go through the stream's own buffers: one read buffer per TLS connection
// (a TLS record is at most 16 KiB of plaintext).
constexpr std::size_t kTlsReadChunk = 16 * 1024;
// A TLS session that timed out still gets its 421 written through TLS, within this time.
constexpr auto kFinalWriteTime = std::chrono::seconds(5);

using TlsStream = asio::ssl::stream<tcp::socket&>;

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
    // TLS, once STARTTLS or the listener started it. `tls_keep` holds the certificates the
    // handshake used, even after a reload.
    std::unique_ptr<TlsStream> tls;
    std::shared_ptr<const void> tls_keep;
    std::vector<char> tls_buffer;
    bool handshaking = false;
    bool expired = false;  // timed out; under TLS the last reply is still being written
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
        if (tls) return;  // TLS records are written by the coroutine (see the watchdog)
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

// One listening socket and what its connections are: RFC 5321 SMTP with optional STARTTLS,
// RFC 6409 submission (STARTTLS and AUTH required), RFC 8314 submissions (TLS from the start).
struct Listener {
    explicit Listener(asio::io_context& io) : acceptor(io) {}
    tcp::acceptor acceptor;
    config::ListenerKind kind = config::ListenerKind::Smtp;
    smtp::SessionConfig session;
    std::string where;
};

const char* kind_name(config::ListenerKind k) {
    switch (k) {
        case config::ListenerKind::Submission: return "submission";
        case config::ListenerKind::Submissions: return "submissions";
        case config::ListenerKind::Smtp: break;
    }
    return "smtp";
}

}  // namespace

struct Server::Impl {
    const config::Config& config;
    const policy::Policy& policy;
    queue::Queue& queue;
    TlsContexts* tls;  // nullptr: no certificate, no TLS
    policy::AuthService* auth;  // nullptr: no AUTH
    smtp::SessionConfig session_config;
    std::string hostname;
    policy::ConnectionLimiter limiter;
    std::vector<std::unique_ptr<Worker>> workers;
    std::vector<std::unique_ptr<Listener>> listeners;  // on workers[0]
    std::atomic<std::size_t> next_worker{0};
    std::atomic<bool> stopping{false};
    asio::signal_set signals;
    // SIGHUP asks this thread to reload (it reads files, which an event loop never does).
    std::thread reloader;
    std::mutex reload_mutex;
    std::condition_variable reload_cv;
    bool reload_wanted = false;
    bool reload_quit = false;

    Impl(const config::Config& c, const policy::Policy& p, queue::Queue& q, TlsContexts* t, policy::AuthService* a,
         std::string host, unsigned threads)
        : config(c),
          policy(p),
          queue(q),
          tls(t),
          auth(a),
          hostname(std::move(host)),
          limiter(c.limits.connections, c.limits.connections_per_client),
          workers(make_workers(threads)),
          signals(workers.front()->io, SIGINT, SIGTERM, SIGHUP) {}

    std::vector<std::unique_ptr<Worker>> make_workers(unsigned n) {
        std::vector<std::unique_ptr<Worker>> v;
        for (unsigned i = 0; i < n; ++i) v.push_back(std::make_unique<Worker>());
        return v;
    }

    void bind_listeners();
    asio::awaitable<void> accept_loop(Listener& listener);
    asio::awaitable<void> serve(Worker& w, tcp::socket socket, const Listener& listener);
    // The TLS handshake (after STARTTLS's 220, or first thing on a submissions listener),
    // bounded by tls.handshake_timeout. False: it failed and the connection is closed.
    asio::awaitable<bool> start_tls(std::shared_ptr<Connection> c);
    std::optional<std::string> reload();
    void wait_signal();
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

void Server::Impl::arm_watchdog(const std::shared_ptr<Connection>& c) {
    // The message's overall limit applies only while its content is coming in (not while the
    // queue commits it: then the client waits for us).
    const bool in_message = c->session && c->session->in_message();
    c->watchdog.expires_at(in_message ? std::min(c->deadline, c->message_deadline) : c->deadline);
    c->watchdog.async_wait([this, c](asio::error_code ec) {
        if (ec || c->closed) return;
        const auto now = Clock::now();
        if (c->handshaking) {
            if (now < c->deadline) return arm_watchdog(c);
            // Nothing to say in plaintext in the middle of a handshake: just close.
            observe::info("tls-failed", {{"session", c->host->session_id()}, {"client", c->address}, {"error", "handshake timeout"}});
            c->close();
            return;
        }
        if (now >= c->message_deadline && c->session->in_message()) {
            c->session->message_timeout();
        } else if (now >= c->deadline) {
            c->session->timeout();
        } else {
            return arm_watchdog(c);  // activity moved the deadline
        }
        if (c->tls && !c->expired) {
            // The coroutine writes the 421 through TLS once its read is cancelled; if even
            // that does not get through in time, the next expiry closes.
            c->expired = true;
            c->deadline = now + kFinalWriteTime;
            asio::error_code e;
            c->socket.cancel(e);
            return arm_watchdog(c);
        }
        c->write_now();
        c->close();
    });
}

asio::awaitable<void> Server::Impl::linger(std::shared_ptr<Connection> c) {
    asio::error_code ec;
    // The watchdog ends the wait: the session is over, so it only has to close.
    c->deadline = Clock::now() + kLingerTime;
    c->message_deadline = Clock::time_point::max();
    c->watchdog.expires_at(c->deadline);
    c->watchdog.async_wait([c](asio::error_code e) {
        if (!e) c->close();
    });
    // TLS ends with close_notify (RFC 8446 6.1), so the client can tell the end from a cut.
    if (c->tls) {
        co_await c->tls->async_shutdown(use_tuple);
        if (c->closed) co_return;
    }
    c->socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
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
        auto [ec, n] = c->tls ? co_await asio::async_write(*c->tls, asio::buffer(out), use_tuple)
                              : co_await asio::async_write(c->socket, asio::buffer(out), use_tuple);
        c->writing = false;
        if (ec) {
            c->close();
            break;
        }
        out = c->session->take_output();
    }
}

asio::awaitable<bool> Server::Impl::start_tls(std::shared_ptr<Connection> c) {
    auto fresh = tls->new_session();
    c->tls_keep = std::move(fresh.keep);
    c->tls = std::make_unique<TlsStream>(c->socket, fresh.ssl);
    c->tls_buffer.resize(kTlsReadChunk);
    c->handshaking = true;
    c->deadline = Clock::now() + std::chrono::seconds(config.tls.handshake_timeout);
    arm_watchdog(c);
    auto [ec] = co_await c->tls->async_handshake(asio::ssl::stream_base::server, use_tuple);
    c->handshaking = false;
    if (c->closed) co_return false;  // timed out: logged by the watchdog
    if (ec) {
        // Garbage instead of a ClientHello, an old protocol, no common cipher: one log line,
        // the connection closed, nothing else spent on it.
        observe::info("tls-failed", {{"session", c->host->session_id()}, {"client", c->address}, {"error", ec.message()}});
        c->close();
        co_return false;
    }
    c->host->tls_established(tls_parameters(c->tls->native_handle()));
    c->deadline = Clock::now() + std::chrono::seconds(config.limits.command_timeout);
    arm_watchdog(c);
    co_return true;
}

asio::awaitable<void> Server::Impl::serve(Worker& w, tcp::socket socket, const Listener& listener) {
    asio::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    if (ec) co_return;
    socket.set_option(tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);

    auto c = std::make_shared<Connection>(std::move(socket));
    c->address = client_address(peer);
    const bool implicit_tls = listener.kind == config::ListenerKind::Submissions;
    smtp::ClientInfo client{c->address, peer.port(), implicit_tls};
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
        },
        auth, [weak, executor](smtp::AuthVerdict verdict, Clock::time_point not_before) {
            // The verdict waits for its time (padding and the failure delay) on a timer of the
            // connection's loop, never on a hashing thread.
            asio::post(executor, [weak, verdict, not_before] {
                auto conn = weak.lock();
                if (!conn || conn->closed) return;
                auto timer = std::make_shared<asio::steady_timer>(conn->socket.get_executor(), not_before);
                timer->async_wait([weak, verdict, timer](asio::error_code) {
                    auto waiting = weak.lock();
                    if (!waiting || waiting->closed) return;
                    waiting->session->auth_done(verdict);
                    waiting->wake.cancel();
                });
            });
        });
    smtp::SessionConfig connection_config = listener.session;
    const auto peer_address = peer.address();
    const bool loopback = peer_address.is_loopback() ||
                          (peer_address.is_v6() && peer_address.to_v6().is_v4_mapped() &&
                           asio::ip::make_address_v4(asio::ip::v4_mapped, peer_address.to_v6()).is_loopback());
    connection_config.auth_plaintext = config.auth.plaintext_loopback && loopback;
    c->session = std::make_unique<smtp::Session>(connection_config, client, *c->host);
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

    observe::info("connect", {{"session", c->host->session_id()}, {"client", c->address}, {"port", peer.port()},
                              {"listener", kind_name(listener.kind)}});
    auto verdict = limiter.admit(c->address);
    c->admitted = verdict == policy::ConnectionLimiter::Verdict::Admitted;
    // RFC 8314 3.3: on a submissions port TLS comes first, the 220 after it. A connection
    // refused anyway is closed without a handshake.
    if (implicit_tls) {
        if (stopping || !c->admitted) {
            observe::info("disconnect", {{"session", c->host->session_id()}, {"client", c->address}, {"refused", "limits"}});
            co_return;
        }
        if (!co_await start_tls(c)) co_return;
    }
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

    thread_local std::vector<char> plain_buffer(kReadChunk);
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
        const char* data = nullptr;
        std::size_t n = 0;
        if (c->tls) {
            // The stream's own buffering: the read waits with this connection's buffer.
            auto [read_ec, got] = co_await c->tls->async_read_some(asio::buffer(c->tls_buffer), use_tuple);
            if (c->closed || c->expired) break;
            ec = read_ec;
            data = c->tls_buffer.data();
            n = got;
        } else {
            auto [wait_ec] = co_await c->socket.async_wait(tcp::socket::wait_read, use_tuple);
            if (wait_ec || c->closed) break;
            n = c->socket.read_some(asio::buffer(plain_buffer), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
            data = plain_buffer.data();
        }
        if (ec) {
            c->peer_gone = true;
            c->session->peer_closed();
            break;
        }
        const bool was_in_message = c->session->in_message();
        c->session->receive(std::string_view(data, n));
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
        // RFC 3207 4.2: STARTTLS's 220 has gone out in plaintext; the handshake follows, and the
        // engine discarded whatever the client sent after the command (CVE-2011-0411). Bytes
        // still in the socket are read by the handshake as TLS records, which they are not.
        if (c->session->tls_handshake_pending() && !c->closed) {
            if (!co_await start_tls(c)) break;
            c->session->tls_started();
            continue;
        }
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
    observe::info("disconnect", {{"session", c->host->session_id()}, {"client", c->address}, {"tls", c->host->tls_summary()}});
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

std::optional<std::string> Server::Impl::reload() {
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
               policy::AuthService* auth) {
    unsigned threads = config.server.threads ? config.server.threads : std::max(1u, std::thread::hardware_concurrency());
    // `ehlo serve` has filled in the system's host name when the configuration left it empty.
    std::string hostname = config.server.hostname.empty() ? "localhost" : config.server.hostname;
    impl_ = std::make_unique<Impl>(config, policy, queue, tls, auth, hostname, threads);
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
    d.wait_signal();
    d.reloader = std::thread([&d] {
        std::unique_lock lock(d.reload_mutex);
        for (;;) {
            d.reload_cv.wait(lock, [&d] { return d.reload_wanted || d.reload_quit; });
            if (d.reload_quit) return;
            d.reload_wanted = false;
            lock.unlock();
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
        w->thread = std::thread([w] { w->io.run(); });
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

// The inside of net::Server, shared by the two files that implement it:
//   server.cpp             listeners, accepting, signals, reload, stopping
//   server_connection.cpp  one connection: the session coroutine, TLS, timers, writing
// Private to net/ (it includes Asio, which stays in these few translation units).
#pragma once

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

#include "msgauth/client_name.hpp"
#include "net/session_host.hpp"
#include "net/tls_context.hpp"
#include "observe/ehlo_metrics.hpp"
#include "observe/log.hpp"
#include "policy/connection_limiter.hpp"
#include "policy/rate_limiter.hpp"
#include "smtp/session.hpp"
#include "net/server.hpp"

namespace ehlo::net {

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
// limits.min_data_rate is judged only once a message's content has flowed this long (a slow
// start, TCP's and the client's, is not slowness), then once a second.
constexpr auto kDataRateGrace = std::chrono::seconds(5);
constexpr auto kDataRateCheck = std::chrono::seconds(1);
// The client's name is awaited before the greeting at most this long (or [dns] timeout if
// shorter): a dead name server delays a greeting, it does not stop it.
constexpr auto kMaxClientNameWait = std::chrono::seconds(5);

using TlsStream = asio::ssl::stream<tcp::socket&>;

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
    // limits.min_data_rate: when the content began (moved on by the time we did not read,
    // under back-pressure), the octets since then and when to look at the rate next.
    Clock::time_point message_started;
    std::uint64_t message_octets = 0;
    Clock::time_point rate_check = Clock::time_point::max();
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
    bool counted_open = false;  // in ehlo_smtp_open_connections
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

inline const char* kind_name(config::ListenerKind k) {
    switch (k) {
        case config::ListenerKind::Submission: return "submission";
        case config::ListenerKind::Submissions: return "submissions";
        case config::ListenerKind::Smtp: break;
    }
    return "smtp";
}


struct Server::Impl {
    const config::Config& config;
    const policy::Policy& policy;
    queue::Queue& queue;
    TlsContexts* tls;  // nullptr: no certificate, no TLS
    policy::AuthService* auth;  // nullptr: no AUTH
    smtp::SessionConfig session_config;
    std::string hostname;
    policy::ConnectionLimiter limiter;
    policy::RateLimiter connection_rate;  // new connections per client and minute
    policy::RateLimiter message_rate;     // MAIL commands per client and minute
    policy::RateLimiter recipient_rate;   // RCPT commands per client and minute
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
    observe::EhloMetrics* metrics = nullptr;  // may be null
    observe::History* history = nullptr;      // may be null
    const MsgauthService* msgauth = nullptr;  // may be null: no message authentication
    msgauth::DnsLookup* client_names = nullptr;  // may be null: clients are not named

    Impl(const config::Config& c, const policy::Policy& p, queue::Queue& q, TlsContexts* t, policy::AuthService* a,
         std::string host, unsigned threads)
        : config(c),
          policy(p),
          queue(q),
          tls(t),
          auth(a),
          hostname(std::move(host)),
          limiter(c.limits.connections, c.limits.connections_per_client),
          connection_rate(c.limits.connection_rate),
          message_rate(c.limits.message_rate),
          recipient_rate(c.limits.recipient_rate),
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
    asio::awaitable<bool> spoke_before_greeting(std::shared_ptr<Connection> c);
    // The client's name, or why none, within kMaxClientNameWait; the connection may be closed
    // meanwhile (shutdown).
    asio::awaitable<msgauth::ClientName> client_name(std::shared_ptr<Connection> c);
    // The TLS handshake (after STARTTLS's 220, or first thing on a submissions listener),
    // bounded by tls.handshake_timeout. False: it failed and the connection is closed.
    asio::awaitable<bool> start_tls(std::shared_ptr<Connection> c);
    std::optional<std::string> reload();
    std::optional<std::string> reload_certificates_and_users();
    // What else SIGHUP and `ehlo reload` read again (the alias files): set before run().
    std::function<std::optional<std::string>()> also_reload;
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


}  // namespace ehlo::net

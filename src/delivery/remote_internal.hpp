// The parts of RemoteDelivery that its three source files share; not for anyone else.
//
//   remote_delivery.cpp  the connection pool: jobs, limits per destination and in all,
//                        dispatch to idle or new connections, drain and stop;
//   remote_connect.cpp   one connection's life: resolving the destination, connecting to its
//                        hosts in order until one greets us, carrying messages, QUIT;
//   remote_dialog.cpp    the conversation on a connection: replies awaited with their RFC 5321
//                        4.5.3.2 timeouts, the content streamed from its source, the TLS
//                        handshake when the engine asks for it (STARTTLS, RFC 3207).
//
// The only header of delivery/ that includes Asio; only these three files include it.
#pragma once

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "delivery/client_session.hpp"
#include "delivery/remote_delivery.hpp"
#include "delivery/resolver.hpp"
#include "delivery/tls_client.hpp"
#include "observe/log.hpp"

namespace ehlo::delivery::remote {


using asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket&>;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

// Bytes read per readiness event, into the loop's one read buffer.
constexpr std::size_t kReadChunk = 16 * 1024;
// Message content is written in pieces of this size, each under the RFC 5321 4.5.3.2.5 data
// block timeout: a peer that stops reading is noticed in that time however large the message.
constexpr std::size_t kWriteChunk = 64 * 1024;
// The reply to QUIT decides nothing (every message on the connection is settled by then), so
// it is awaited this long at most rather than the 5 minutes of RFC 5321 4.5.3.2.
constexpr Millis kQuitWait{2000};
// Bytes read per TLS read, into the connection's own buffer (a TLS stream's read is not the
// readiness-then-read of plaintext, so the loop's shared buffer cannot serve it).
constexpr std::size_t kTlsReadChunk = 4 * 1024;
// A TLS handshake after STARTTLS may take this long (scaled like the reply timeouts), as a
// command's reply may: Postfix's smtp_starttls_timeout is the same 300 s.
constexpr std::chrono::seconds kTlsHandshakeTimeout{5 * 60};
// stop(): how long connections get to say goodbye before the loop ends regardless.
constexpr Millis kStopGrace{5000};

// ClientSession::abort() reason on stop(); the engine makes it 421 4.4.2.
constexpr const char* kShutdownReason = "Shutting down";

// For jobs stop() ends before any connection carried them (RFC 3463 X.3.2: the system is not
// accepting messages now).
inline smtp::Reply shutting_down() { return {451, "4.3.2", "Delivery stopped: shutting down"}; }

inline const char* outcome_name(Outcome o) {
    switch (o) {
    case Outcome::Delivered: return "delivered";
    case Outcome::Deferred: return "deferred";
    case Outcome::Failed: return "failed";
    }
    return "?";
}

inline std::string awaited_reply(ClientWait wait) {
    switch (wait) {
    case ClientWait::Greeting: return "the greeting";
    case ClientWait::Mail: return "the reply to MAIL";
    case ClientWait::Rcpt: return "the reply to RCPT";
    case ClientWait::DataInitiation: return "the reply to DATA";
    case ClientWait::DataTermination: return "the reply to the end of data";
    case ClientWait::Nothing:
    case ClientWait::Command: break;
    }
    return "a reply";
}

struct Job {
    RemoteJob job;
    std::function<void(RemoteOutcome)> done;
    bool completed = false;
};
using JobPtr = std::shared_ptr<Job>;

// The same reply for every recipient of the job.
inline RemoteOutcome uniform(const RemoteJob& job, const smtp::Reply& reply, Outcome outcome, bool remote,
                      std::string remote_mta) {
    RemoteOutcome o;
    o.remote_mta = std::move(remote_mta);
    for (std::size_t index : job.recipients) o.recipients.push_back(RecipientResult{index, reply, outcome, remote});
    return o;
}

// Logs one line per recipient and calls `done`, once. A callback that throws must not take the
// delivery thread, and every other job, with it.
inline void finish_job(const JobPtr& j, RemoteOutcome outcome, const std::string& host, const std::string& ip) {
    if (j->completed) return;
    j->completed = true;
    if (outcome.host.empty()) outcome.host = host;
    if (outcome.address.empty()) outcome.address = ip;
    const auto& rcpts = j->job.envelope.recipients;
    for (const RecipientResult& r : outcome.recipients) {
        const std::string to = r.index < rcpts.size() ? rcpts[r.index].address.str() : std::string{};
        const std::string reply = r.reply.one_line();
        const char* result = outcome_name(r.outcome);
        // Every attempt on a connection says whether it was encrypted, and how.
        const std::optional<TlsHandshake>& t = outcome.tls;
        if (!outcome.connected) {
            observe::info("remote-attempt", {{"id", j->job.queue_id}, {"to", to}, {"host", host}, {"ip", ip},
                                             {"reply", reply}, {"outcome", result}});
        } else if (!t) {
            observe::info("remote-attempt", {{"id", j->job.queue_id}, {"to", to}, {"host", host}, {"ip", ip},
                                             {"reply", reply}, {"outcome", result}, {"tls", "no"}});
        } else if (t->verified) {
            observe::info("remote-attempt",
                          {{"id", j->job.queue_id}, {"to", to}, {"host", host}, {"ip", ip}, {"reply", reply},
                           {"outcome", result}, {"tls", "yes"}, {"protocol", t->protocol}, {"cipher", t->cipher},
                           {"bits", t->bits}, {"verified", "yes"}, {"resumed", t->resumed ? "yes" : "no"}});
        } else {
            observe::info("remote-attempt",
                          {{"id", j->job.queue_id}, {"to", to}, {"host", host}, {"ip", ip}, {"reply", reply},
                           {"outcome", result}, {"tls", "yes"}, {"protocol", t->protocol}, {"cipher", t->cipher},
                           {"bits", t->bits}, {"verified", "no"}, {"verify_error", t->verify_error},
                           {"resumed", t->resumed ? "yes" : "no"}});
        }
    }
    try {
        j->done(std::move(outcome));
    } catch (const std::exception& e) {
        observe::error("remote-callback-failed", {{"id", j->job.queue_id}, {"error", e.what()}});
    } catch (...) {
        observe::error("remote-callback-failed", {{"id", j->job.queue_id}, {"error", "unknown exception"}});
    }
}

// Where other threads (deliver() callers, the resolver) hand work to the loop. Resolver
// callbacks keep it alive after the loop is gone; once stop() closes it nothing more is posted.
struct Inbox {
    std::mutex mutex;
    asio::io_context* io = nullptr;
    bool open = true;

    template <typename F>
    bool post(F&& f) {
        std::lock_guard lock(mutex);
        if (!open) return false;
        asio::post(*io, std::forward<F>(f));
        return true;
    }
    void close() {
        std::lock_guard lock(mutex);
        open = false;
    }
};

struct Destination;

// One outbound connection and the coroutine that drives it. Touched on the loop thread only.
struct Conn : std::enable_shared_from_this<Conn> {
    enum class State {
        Opening,  // resolving, connecting, greeting and EHLO
        Busy,     // carrying a message, or given one
        Idle,     // ready for a message: dispatch() may give it one
        Closing,  // QUIT or closed
    };

    Conn(asio::io_context& io, Destination& d, JobPtr first)
        : dest(d), socket(io), guard(io), wake(io), job(std::move(first)) {}

    Destination& dest;
    tcp::socket socket;
    std::unique_ptr<TlsStream> tls;  // over `socket`, after STARTTLS
    std::vector<char> tls_buffer;
    TlsPolicy policy = TlsPolicy::May;  // of this connection: None when retrying in plaintext
    std::string tls_ca_file;            // the destination's (RemoteTarget::tls_ca_file)
    std::uint16_t port = 25;
    asio::steady_timer guard;  // the deadline of the socket operation in progress
    asio::steady_timer wake;   // waited on while the resolver works
    State state = State::Opening;
    JobPtr job;      // the next message for this connection
    JobPtr current;  // the message on the wire
    std::shared_ptr<ContentReader> content;  // of `current`, once its content is wanted
    std::optional<RouteLookup> route;
    std::unique_ptr<ClientSession> session;
    std::string host;  // the next hop's name, and the address connected to
    std::string ip;
    std::size_t messages = 0;
    bool aborted_locally = false;  // the session ended by our abort() (timeout, drop), not a reply
    bool stop_requested = false;
    bool released = false;
    bool timed_out = false;
    std::uint64_t generation = 0;  // of the guard timer: a late expiry of an old deadline does nothing

    std::string label() const { return host + " [" + ip + "]"; }

    // The guard cancels the socket operation when `deadline` passes; disarm() says whether it did.
    void arm(Clock::time_point deadline) {
        timed_out = false;
        const std::uint64_t g = ++generation;
        guard.expires_at(deadline);
        guard.async_wait([weak = weak_from_this(), g](asio::error_code ec) {
            if (ec) return;
            const auto c = weak.lock();
            if (!c || c->generation != g) return;
            c->timed_out = true;
            asio::error_code ignored;
            c->socket.cancel(ignored);
        });
    }
    bool disarm() {
        ++generation;
        guard.cancel();
        return std::exchange(timed_out, false);
    }

    // Wakes the coroutine wherever it waits (a job was given, or stop()).
    void interrupt() {
        asio::error_code ignored;
        socket.cancel(ignored);
        wake.cancel();
    }

    void close() {
        asio::error_code ignored;
        if (socket.is_open()) {
            socket.shutdown(tcp::socket::shutdown_both, ignored);
            socket.close(ignored);
        }
    }
};
using ConnPtr = std::shared_ptr<Conn>;

// The connections and waiting jobs of one RemoteTarget::key().
struct Destination {
    std::string key;
    std::deque<JobPtr> waiting;  // first come, first served
    std::vector<ConnPtr> conns;  // in every state; all count toward the limits
    bool in_slot_queue = false;  // waits for a connection slot under max_connections

    bool has_established() const {
        return std::any_of(conns.begin(), conns.end(), [](const ConnPtr& c) {
            return c->state == Conn::State::Busy || c->state == Conn::State::Idle;
        });
    }
};

enum class Io { Ok, Timeout, Interrupted, Lost };

// How far converse() drives the dialog.
enum class Phase {
    Ready,    // until no reply is awaited: after connecting (greeting, EHLO) and between messages
    Message,  // until the message given to the session has its result
    Goodbye,  // until the session is finished, after quit()
};

}  // namespace ehlo::delivery::remote

namespace ehlo::delivery {

// This private header's own names, for the three files that share it.
using namespace remote;

struct RemoteDelivery::Impl {
    Impl(RemoteOptions o, Resolver& r) : options(std::move(o)), resolver(r) {
        // A limit of 0 would leave every job waiting forever.
        options.max_connections = std::max<std::size_t>(options.max_connections, 1);
        options.max_connections_per_destination = std::max<std::size_t>(options.max_connections_per_destination, 1);
        options.max_messages_per_connection = std::max<std::size_t>(options.max_messages_per_connection, 1);
        if (!(options.timeout_scale > 0)) options.timeout_scale = 1.0;
        inbox->io = &io;
    }

    RemoteOptions options;
    Resolver& resolver;
    TlsClient tls_client{options.tls_ca_files, options.tls_sessions};  // before `io`: its SSLs outlive no client
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();
    asio::steady_timer grace{io};
    std::vector<char> read_buffer = std::vector<char>(kReadChunk);
    // Message content is read here, off the loop (after `io`: joined before it is destroyed).
    asio::thread_pool files{1};

    // Loop thread only.
    std::unordered_map<std::string, Destination> destinations;
    std::deque<std::string> slot_waiters;  // destination keys, oldest first
    std::size_t open_connections = 0;
    std::unordered_set<JobPtr> in_flight;  // accepted and not yet completed
    bool stopping = false;
    bool draining = false;  // drain(): finish what is on the wire, start nothing new

    std::mutex stop_mutex;
    bool stop_posted = false;
    std::mutex join_mutex;
    std::thread thread;

    Millis scaled(Millis d) const {
        const double ms = static_cast<double>(d.count()) * options.timeout_scale;
        return Millis(std::max<Millis::rep>(1, static_cast<Millis::rep>(ms)));
    }

    void run_loop();

    // ---- jobs and limits ------------------------------------------------------------------

    void complete(const JobPtr& j, RemoteOutcome outcome, const std::string& host, const std::string& ip);
    void complete_uniform(const JobPtr& j, const smtp::Reply& reply, Outcome outcome);
    void accept(JobPtr j);
    void dispatch(Destination& d);
    void reclaim_idle();
    void open(Destination& d, JobPtr first);
    void requeue(Destination& d, JobPtr j);
    void release(const ConnPtr& c);
    void crashed(const ConnPtr& c, std::exception_ptr e);
    // `session`: the last attempt got as far as a session with the peer; `tls`: and over TLS.
    void give_up(const ConnPtr& c, const smtp::Reply& reply, Outcome outcome, bool remote, bool session = false,
                 const std::optional<TlsHandshake>& tls = std::nullopt);
    void begin_drain();
    void begin_stop();

    // ---- one connection -------------------------------------------------------------------

    asio::awaitable<void> run(ConnPtr c);
    asio::awaitable<bool> establish(ConnPtr c);
    asio::awaitable<RouteLookup> resolve(ConnPtr c, RemoteTarget target);
    asio::awaitable<std::string> connect(ConnPtr c, Address address, std::uint16_t port);
    asio::awaitable<Io> read(ConnPtr c, Clock::time_point deadline, std::string& bytes);
    asio::awaitable<Io> write(ConnPtr c, std::string bytes);
    asio::awaitable<void> start_tls(ConnPtr c);
    asio::awaitable<void> close_tls(ConnPtr c);
    void abort(const ConnPtr& c, const std::string& reason);
    asio::awaitable<std::optional<MessageResult>> converse(ConnPtr c, Phase phase);
    asio::awaitable<void> give_content(ConnPtr c);
    asio::awaitable<void> transfer(ConnPtr c);
    asio::awaitable<void> idle(ConnPtr c);
};

}  // namespace ehlo::delivery

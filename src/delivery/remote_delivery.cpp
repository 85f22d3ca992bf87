// The SMTP client on the wire. The only translation unit of delivery/ that includes Asio.
//
// Shape: one thread, one io_context. Every connection is one coroutine that reads like the
// dialog it drives: resolve the destination, connect to its hosts in order until one greets us
// and accepts EHLO/HELO, hand the ClientSession one message after another, idle a little in
// case another comes, QUIT. The coroutine only moves bytes and arms timers; every protocol
// decision (pipelining, extensions, per-recipient outcomes, what a timeout or a drop means) is
// the ClientSession's.
//
// Outcomes follow from one rule (RFC 5321 6.1): a recipient is Delivered only on the peer's 2xx
// to the final "."; whatever else ends an attempt (no route, no host reachable, a timeout, a
// dropped connection, stop()) leaves it Deferred unless the peer refused it permanently.
#include "delivery/remote_delivery.hpp"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <algorithm>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "delivery/client_session.hpp"
#include "delivery/resolver.hpp"
#include "observe/log.hpp"

namespace ehlo::delivery {
namespace {

using asio::ip::tcp;
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
// stop(): how long connections get to say goodbye before the loop ends regardless.
constexpr Millis kStopGrace{5000};

// ClientSession::abort() reason on stop(); the engine makes it 421 4.4.2.
constexpr const char* kShutdownReason = "Shutting down";

// For jobs stop() ends before any connection carried them (RFC 3463 X.3.2: the system is not
// accepting messages now).
smtp::Reply shutting_down() { return {451, "4.3.2", "Delivery stopped: shutting down"}; }

const char* outcome_name(Outcome o) {
    switch (o) {
    case Outcome::Delivered: return "delivered";
    case Outcome::Deferred: return "deferred";
    case Outcome::Failed: return "failed";
    }
    return "?";
}

std::string awaited_reply(ClientWait wait) {
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
RemoteOutcome uniform(const RemoteJob& job, const smtp::Reply& reply, Outcome outcome, bool remote,
                      std::string remote_mta) {
    RemoteOutcome o;
    o.remote_mta = std::move(remote_mta);
    for (std::size_t index : job.recipients) o.recipients.push_back(RecipientResult{index, reply, outcome, remote});
    return o;
}

// Logs one line per recipient and calls `done`, once. A callback that throws must not take the
// delivery thread, and every other job, with it.
void finish_job(const JobPtr& j, RemoteOutcome outcome, const std::string& host, const std::string& ip) {
    if (j->completed) return;
    j->completed = true;
    const auto& rcpts = j->job.envelope.recipients;
    for (const RecipientResult& r : outcome.recipients) {
        const std::string to = r.index < rcpts.size() ? rcpts[r.index].address.str() : std::string{};
        observe::info("remote-attempt", {{"id", j->job.queue_id},
                                         {"to", to},
                                         {"host", host},
                                         {"ip", ip},
                                         {"reply", r.reply.one_line()},
                                         {"outcome", outcome_name(r.outcome)}});
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
    asio::steady_timer guard;  // the deadline of the socket operation in progress
    asio::steady_timer wake;   // waited on while the resolver works
    State state = State::Opening;
    JobPtr job;      // the next message for this connection
    JobPtr current;  // the message on the wire
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

}  // namespace

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
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();
    asio::steady_timer grace{io};
    std::vector<char> read_buffer = std::vector<char>(kReadChunk);

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

    void run_loop() {
        while (true) {
            try {
                io.run();
                return;
            } catch (const std::exception& e) {
                observe::error("remote-loop-error", {{"error", e.what()}});
            }
        }
    }

    // ---- jobs and limits ------------------------------------------------------------------

    void complete(const JobPtr& j, RemoteOutcome outcome, const std::string& host, const std::string& ip) {
        in_flight.erase(j);
        finish_job(j, std::move(outcome), host, ip);
    }

    void complete_uniform(const JobPtr& j, const smtp::Reply& reply, Outcome outcome) {
        complete(j, uniform(j->job, reply, outcome, false, ""), "", "");
    }

    void accept(JobPtr j) {
        if (stopping || draining) return complete_uniform(j, shutting_down(), Outcome::Deferred);
        if (j->job.recipients.empty()) return complete(j, RemoteOutcome{}, "", "");
        in_flight.insert(j);
        const std::string key = j->job.target.key();
        Destination& d = destinations[key];
        d.key = key;
        d.waiting.push_back(std::move(j));
        dispatch(d);
    }

    // Gives waiting jobs to idle connections, then to new ones as far as the limits allow.
    void dispatch(Destination& d) {
        while (!d.waiting.empty() && !stopping && !draining) {
            const auto idle = std::find_if(d.conns.begin(), d.conns.end(),
                                           [](const ConnPtr& c) { return c->state == Conn::State::Idle; });
            if (idle != d.conns.end()) {
                Conn& c = **idle;
                c.state = Conn::State::Busy;
                c.job = d.waiting.front();
                d.waiting.pop_front();
                c.interrupt();
                continue;
            }
            if (d.conns.size() >= options.max_connections_per_destination) return;
            if (open_connections >= options.max_connections) {
                if (!d.in_slot_queue) {
                    d.in_slot_queue = true;
                    slot_waiters.push_back(d.key);
                    reclaim_idle();
                }
                return;
            }
            JobPtr j = d.waiting.front();
            d.waiting.pop_front();
            open(d, std::move(j));
        }
    }

    // At the limit of connections in all, a connection idling for jobs that may never come
    // must not keep another destination's waiting job from being sent: it says QUIT now.
    void reclaim_idle() {
        for (auto& [key, other] : destinations)
            for (const ConnPtr& c : other.conns)
                if (c->state == Conn::State::Idle) {
                    c->state = Conn::State::Closing;
                    c->interrupt();
                    return;
                }
    }

    void open(Destination& d, JobPtr first) {
        auto c = std::make_shared<Conn>(io, d, std::move(first));
        d.conns.push_back(c);
        ++open_connections;
        asio::co_spawn(io, run(c), [this, c](std::exception_ptr e) {
            if (e) crashed(c, e);
        });
    }

    // A job taken for a connection that cannot carry it after all goes back to the head of its line.
    void requeue(Destination& d, JobPtr j) {
        if (stopping) return complete_uniform(j, shutting_down(), Outcome::Deferred);
        d.waiting.push_front(std::move(j));
    }

    void release(const ConnPtr& c) {
        if (c->released) return;
        c->released = true;
        c->close();
        c->guard.cancel();
        c->wake.cancel();
        Destination& d = c->dest;
        std::erase(d.conns, c);
        --open_connections;
        if (stopping) {
            if (open_connections == 0) grace.cancel();
            return;
        }
        // The freed slot goes to the destination that has waited longest for one.
        while (open_connections < options.max_connections && !slot_waiters.empty()) {
            const auto it = destinations.find(slot_waiters.front());
            slot_waiters.pop_front();
            if (it == destinations.end()) continue;
            Destination& w = it->second;
            w.in_slot_queue = false;
            dispatch(w);
            if (w.in_slot_queue) {  // the slots ran out again: it keeps its place at the head
                slot_waiters.pop_back();
                slot_waiters.push_front(w.key);
                break;
            }
        }
        dispatch(d);
        if (d.conns.empty() && d.waiting.empty() && !d.in_slot_queue) {
            const std::string key = d.key;
            destinations.erase(key);
        }
    }

    void crashed(const ConnPtr& c, std::exception_ptr e) {
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            what = ex.what();
        } catch (...) {
        }
        observe::error("remote-connection-error", {{"host", c->host}, {"ip", c->ip}, {"error", what}});
        const smtp::Reply reply{451, "4.3.0", "Internal error during delivery"};
        if (c->current) complete_uniform(std::exchange(c->current, nullptr), reply, Outcome::Deferred);
        if (c->job) complete_uniform(std::exchange(c->job, nullptr), reply, Outcome::Deferred);
        release(c);
    }

    // Ends c's job with `reply`. A destination none of whose connections got through is down
    // for now: its waiting jobs would only repeat the same attempts one after another, so they
    // end the same way (and the queue retries them later), as Postfix does for a dead site.
    void give_up(const ConnPtr& c, const smtp::Reply& reply, Outcome outcome, bool remote) {
        const std::string mta = remote ? c->label() : std::string{};
        if (JobPtr j = std::exchange(c->job, nullptr))
            complete(j, uniform(j->job, reply, outcome, remote, mta), c->host, c->ip);
        Destination& d = c->dest;
        if (d.has_established()) return;
        std::deque<JobPtr> waiting = std::move(d.waiting);
        d.waiting.clear();
        for (const JobPtr& j : waiting) complete(j, uniform(j->job, reply, outcome, remote, mta), c->host, c->ip);
    }

    // A stopping server: a transaction already under way runs to its end (its message may be
    // past the final dot: cutting it now would send it again after the restart), jobs still
    // waiting are deferred at once, idle connections say QUIT.
    void begin_drain() {
        draining = true;
        for (auto& [key, d] : destinations) {
            std::deque<JobPtr> waiting = std::move(d.waiting);
            d.waiting.clear();
            d.in_slot_queue = false;
            for (const JobPtr& j : waiting) complete_uniform(j, shutting_down(), Outcome::Deferred);
            for (const ConnPtr& c : d.conns) {
                if (c->state != Conn::State::Idle) continue;
                c->stop_requested = true;
                c->interrupt();
            }
        }
        slot_waiters.clear();
    }

    void begin_stop() {
        stopping = true;
        for (auto& [key, d] : destinations) {
            std::deque<JobPtr> waiting = std::move(d.waiting);
            d.waiting.clear();
            d.in_slot_queue = false;
            for (const JobPtr& j : waiting) complete_uniform(j, shutting_down(), Outcome::Deferred);
            for (const ConnPtr& c : d.conns) {
                c->stop_requested = true;
                c->interrupt();
            }
        }
        slot_waiters.clear();
        work.reset();  // io.run() returns once the last connection is gone
        if (open_connections > 0) {
            grace.expires_after(kStopGrace);
            grace.async_wait([this](asio::error_code ec) {
                if (!ec) io.stop();
            });
        }
    }

    // ---- one connection -------------------------------------------------------------------

    asio::awaitable<void> run(ConnPtr c) {
        Destination& d = c->dest;
        if (co_await establish(c)) {
            c->state = Conn::State::Busy;
            while (c->job) {
                if (!c->session->wants_message()) {
                    requeue(d, std::exchange(c->job, nullptr));
                    break;
                }
                co_await transfer(c);
                ++c->messages;
                co_await converse(c, Phase::Ready);  // e.g. the reply to RSET after a refused DATA
                if (c->stop_requested || !c->session->wants_message()) break;
                if (c->messages >= options.max_messages_per_connection) break;
                if (!d.waiting.empty()) {
                    c->job = d.waiting.front();
                    d.waiting.pop_front();
                    continue;
                }
                c->state = Conn::State::Idle;
                co_await idle(c);
                if (c->job && (c->stop_requested || !c->session->wants_message()))
                    requeue(d, std::exchange(c->job, nullptr));
            }
            c->state = Conn::State::Closing;
            if (!c->session->finished()) {
                c->session->quit();
                co_await converse(c, Phase::Goodbye);
            }
        }
        c->state = Conn::State::Closing;
        release(c);
    }

    // Resolves the destination and connects to its hosts in order (RFC 5321 5.1) until one
    // greets us and accepts EHLO or HELO. False: c's job has been completed.
    asio::awaitable<bool> establish(ConnPtr c) {
        const RemoteTarget target = c->job->job.target;
        const RouteLookup route = co_await resolve(c, target);
        if (c->stop_requested) {
            complete_uniform(std::exchange(c->job, nullptr), shutting_down(), Outcome::Deferred);
            co_return false;
        }
        if (route.status != RouteLookup::Status::Ok) {
            smtp::Reply reply = route.reply.value_or(smtp::Reply{451, "4.4.3", "Temporary DNS failure"});
            Outcome outcome = Outcome::Failed;  // null MX, no such domain, a loop: RFC 7505, RFC 5321 5.1
            if (route.status == RouteLookup::Status::TempFail) {
                outcome = Outcome::Deferred;
            } else if (target.host && route.status == RouteLookup::Status::NotFound) {
                // A configured relay without an address is our configuration, not the
                // recipient's fault: held until it is fixed (RFC 3463 X.4.4: unable to route).
                const std::string text = reply.lines.empty() ? std::string("no address") : reply.lines.front();
                reply = smtp::Reply{451, "4.4.4", "Configured route " + *target.host + ": " + text};
                outcome = Outcome::Deferred;
            }
            observe::info("remote-route-failed",
                          {{"id", c->job->job.queue_id}, {"destination", target.key()}, {"error", route.error}});
            give_up(c, reply, outcome, false);
            co_return false;
        }

        smtp::Reply last{451, "4.4.0", "No address to connect to"};
        bool last_remote = false;
        std::string last_host, last_ip;
        for (const NextHop& hop : route.hops) {
            for (const Address& address : hop.addresses) {
                if (c->stop_requested) break;
                c->host = hop.host;
                c->ip = address.ip;
                last_host = c->host;
                last_ip = c->ip;
                const std::string error = co_await connect(c, address, target.port);
                if (c->stop_requested) break;
                if (!error.empty()) {
                    observe::info("remote-connect-failed",
                                  {{"id", c->job->job.queue_id}, {"host", c->host}, {"ip", c->ip}, {"error", error}});
                    last = smtp::Reply{451, "4.4.1", error};  // RFC 3463 X.4.1: no answer from host
                    last_remote = false;
                    continue;
                }
                c->session = std::make_unique<ClientSession>(options.helo_name);
                c->aborted_locally = false;
                co_await converse(c, Phase::Ready);
                if (!c->session->failed() && !c->session->finished()) {
                    observe::debug("remote-connected", {{"host", c->host}, {"ip", c->ip}});
                    co_return true;
                }
                // RFC 5321 5.1 and 3.1: a host that will not talk to us (a 4xx or 5xx greeting,
                // EHLO and HELO refused, a timeout, a drop) is not the domain's answer; the
                // next address or MX host may be.
                const smtp::Reply& e = c->session->connection_error();
                observe::info("remote-connect-failed",
                              {{"id", c->job->job.queue_id}, {"host", c->host}, {"ip", c->ip}, {"error", e.one_line()}});
                if (c->aborted_locally || e.transient()) {
                    last = e;
                    last_remote = !c->aborted_locally;
                } else {
                    // A 5xx here defers, never bounces: another host, or this one later, may accept.
                    last = smtp::Reply{451, "4.4.0", c->label() + " refused the session: " + e.one_line()};
                    last_remote = false;
                }
                c->session.reset();
                c->close();
            }
            if (c->stop_requested) break;
        }
        if (c->stop_requested) {
            complete_uniform(std::exchange(c->job, nullptr), shutting_down(), Outcome::Deferred);
            co_return false;
        }
        c->host = last_host;
        c->ip = last_ip;
        give_up(c, last, Outcome::Deferred, last_remote);
        co_return false;
    }

    asio::awaitable<RouteLookup> resolve(ConnPtr c, RemoteTarget target) {
        if (target.host) {
            asio::error_code ec;
            const auto literal = asio::ip::make_address(*target.host, ec);
            if (!ec) {
                RouteLookup r;
                r.status = RouteLookup::Status::Ok;
                r.hops.push_back(NextHop{*target.host, 0, {Address{literal.to_string(), literal.is_v6()}}, false});
                co_return r;
            }
        }
        // The answer comes on the resolver's thread; it is posted here and wakes the coroutine.
        std::weak_ptr<Conn> weak = c;
        Resolver::Done done = [box = inbox, weak](RouteLookup r) {
            box->post([weak, r = std::move(r)]() mutable {
                if (const auto conn = weak.lock()) {
                    conn->route = std::move(r);
                    conn->wake.cancel();
                }
            });
        };
        c->route.reset();
        if (target.host)
            resolver.lookup_addresses(*target.host, std::move(done));
        else
            resolver.lookup_mx(target.domain, std::move(done));
        while (!c->route && !c->stop_requested) {
            c->wake.expires_at(Clock::time_point::max());
            co_await c->wake.async_wait(use_tuple);
        }
        if (!c->route) co_return RouteLookup{};
        RouteLookup r = std::move(*c->route);
        c->route.reset();
        co_return r;
    }

    // Empty when connected; else why not, for the log and the deferral.
    asio::awaitable<std::string> connect(ConnPtr c, Address address, std::uint16_t port) {
        c->close();
        asio::error_code ec;
        const auto ip = asio::ip::make_address(address.ip, ec);
        if (ec) co_return "not an IP address: " + c->label();
        const tcp::endpoint endpoint(ip, port);
        c->socket.open(endpoint.protocol(), ec);
        if (ec) co_return "cannot connect to " + c->label() + ": " + ec.message();
        c->arm(Clock::now() + options.connect_timeout);
        auto [error] = co_await c->socket.async_connect(endpoint, use_tuple);
        const bool timed_out = c->disarm();
        if (error) {
            c->close();
            if (timed_out) co_return "connection to " + c->label() + " timed out";
            if (error == asio::error::connection_refused) co_return "connection refused by " + c->label();
            co_return "cannot connect to " + c->label() + ": " + error.message();
        }
        c->socket.set_option(tcp::no_delay(true), ec);
        c->socket.non_blocking(true, ec);  // read_some() after a readiness wait must not block
        co_return std::string{};
    }

    asio::awaitable<Io> read(ConnPtr c, Clock::time_point deadline, std::string& bytes) {
        while (true) {
            c->arm(deadline);
            auto [ec] = co_await c->socket.async_wait(tcp::socket::wait_read, use_tuple);
            const bool timed_out = c->disarm();
            if (ec) co_return timed_out ? Io::Timeout : ec == asio::error::operation_aborted ? Io::Interrupted : Io::Lost;
            // Read at once, before anything else runs on the loop: the buffer is shared.
            asio::error_code rec;
            const std::size_t n = c->socket.read_some(asio::buffer(read_buffer), rec);
            if (rec == asio::error::would_block || rec == asio::error::try_again) continue;
            if (rec) co_return Io::Lost;  // end of stream included
            bytes.assign(read_buffer.data(), n);
            co_return Io::Ok;
        }
    }

    asio::awaitable<Io> write(ConnPtr c, std::string bytes) {
        std::size_t offset = 0;
        while (offset < bytes.size()) {
            const std::size_t n = std::min(kWriteChunk, bytes.size() - offset);
            c->arm(Clock::now() + scaled(kDataBlockTimeout));  // RFC 5321 4.5.3.2.5
            auto [ec, written] = co_await asio::async_write(c->socket, asio::buffer(bytes.data() + offset, n), use_tuple);
            const bool timed_out = c->disarm();
            if (ec) co_return timed_out ? Io::Timeout : ec == asio::error::operation_aborted ? Io::Interrupted : Io::Lost;
            offset += written;
        }
        co_return Io::Ok;
    }

    void abort(const ConnPtr& c, const std::string& reason) {
        c->aborted_locally = true;
        c->session->abort(reason);
    }

    // Writes what the session says and feeds it what the peer answers, each reply awaited for
    // its RFC 5321 4.5.3.2 time (scaled), until `phase` is reached or the session is over.
    asio::awaitable<std::optional<MessageResult>> converse(ConnPtr c, Phase phase) {
        ClientSession& s = *c->session;
        // The time allowed for a reply runs from when it is awaited, not from the last byte:
        // a peer that drips a byte now and then must still time out (RFC 5321 4.5.3.2).
        ClientWait timed = ClientWait::Nothing;
        Clock::time_point deadline{};
        while (true) {
            if (phase != Phase::Goodbye && c->stop_requested && !s.finished()) abort(c, kShutdownReason);
            if (std::string out = s.take_output(); !out.empty()) {
                timed = ClientWait::Nothing;  // a new command: its reply gets its own time
                switch (co_await write(c, std::move(out))) {
                case Io::Ok: break;
                case Io::Timeout: abort(c, "Timed out sending to " + c->label()); break;
                case Io::Interrupted: abort(c, kShutdownReason); break;  // only stop() interrupts a write
                case Io::Lost: abort(c, "Connection lost with " + c->label()); break;
                }
            }
            if (phase == Phase::Message)
                if (auto result = s.take_result()) co_return result;
            // A session that failed while connecting may still await the reply to its QUIT; the
            // next host is more use than that reply.
            if (s.finished() || (phase == Phase::Ready && s.failed())) co_return std::nullopt;
            const ClientWait wait = s.awaiting();
            if (wait == ClientWait::Nothing) co_return std::nullopt;
            if (wait != timed) {
                Millis limit = scaled(timeout_of(wait));
                if (phase == Phase::Goodbye) limit = std::min(limit, kQuitWait);
                deadline = Clock::now() + limit;
                timed = wait;
            }
            std::string bytes;
            switch (co_await read(c, deadline, bytes)) {
            case Io::Ok: s.feed(bytes); break;
            case Io::Timeout: abort(c, "Timed out waiting for " + awaited_reply(wait) + " from " + c->label()); break;
            case Io::Lost: abort(c, "Connection lost with " + c->label()); break;
            case Io::Interrupted: break;  // stop(): seen at the top
            }
        }
    }

    // One message: the job's recipients get the engine's outcomes.
    asio::awaitable<void> transfer(ConnPtr c) {
        JobPtr j = std::exchange(c->job, nullptr);
        c->current = j;
        const RemoteJob& job = j->job;
        OutboundMessage m;
        m.envelope = job.envelope;
        m.recipient_indexes = job.recipients;
        m.content = *job.content;
        m.eight_bit = job.eight_bit;
        m.needs_smtputf8 = job.needs_smtputf8;
        c->session->send(std::move(m));
        std::optional<MessageResult> result = co_await converse(c, Phase::Message);
        c->current = nullptr;
        RemoteOutcome outcome;
        if (result) {
            outcome.recipients = std::move(result->recipients);
            outcome.remote_mta = c->label();
            outcome.dsn_passed_on = result->dsn_passed_on;
        } else {
            // The engine settles every message it was given; this is only a safety net.
            outcome = uniform(job, smtp::Reply{421, "4.4.2", "Connection lost with " + c->label()}, Outcome::Deferred,
                              false, c->label());
        }
        complete(j, std::move(outcome), c->host, c->ip);
    }

    // Between messages: wait up to idle_keep for dispatch() to give a job, unless reclaim_idle()
    // or stop() wants the connection closed first. A server may close an idle connection at any
    // time, saying 421 first (RFC 5321 3.8); the session hears it here and the connection ends.
    asio::awaitable<void> idle(ConnPtr c) {
        ClientSession& s = *c->session;
        const auto until = Clock::now() + options.idle_keep;
        while (!c->job && !c->stop_requested && !s.finished() && c->state == Conn::State::Idle) {
            if (Clock::now() >= until) co_return;
            std::string bytes;
            switch (co_await read(c, until, bytes)) {
            case Io::Ok: s.feed(bytes); break;
            case Io::Timeout: co_return;
            case Io::Lost: abort(c, "Connection lost with " + c->label()); break;
            case Io::Interrupted: break;
            }
        }
    }
};

RemoteDelivery::RemoteDelivery(RemoteOptions options, Resolver& resolver)
    : impl_(std::make_unique<Impl>(std::move(options), resolver)) {
    Impl* s = impl_.get();
    s->thread = std::thread([s] { s->run_loop(); });
}

RemoteDelivery::~RemoteDelivery() { stop(); }

void RemoteDelivery::deliver(RemoteJob job, std::function<void(RemoteOutcome)> done) {
    if (!done) throw std::invalid_argument("RemoteDelivery::deliver: no callback");
    if (!job.content) throw std::invalid_argument("RemoteDelivery::deliver: no content");
    for (std::size_t index : job.recipients)
        if (index >= job.envelope.recipients.size())
            throw std::invalid_argument("RemoteDelivery::deliver: recipient index out of range");
    auto j = std::make_shared<Job>(Job{std::move(job), std::move(done), false});
    Impl* s = impl_.get();
    if (!s->inbox->post([s, j] { s->accept(j); }))
        finish_job(j, uniform(j->job, shutting_down(), Outcome::Deferred, false, ""), "", "");
}

void RemoteDelivery::drain() {
    Impl& s = *impl_;
    std::lock_guard lock(s.stop_mutex);
    if (!s.stop_posted) asio::post(s.io, [&s] { s.begin_drain(); });
}

void RemoteDelivery::stop() {
    Impl& s = *impl_;
    {
        std::lock_guard lock(s.stop_mutex);
        if (!s.stop_posted) {
            s.stop_posted = true;
            s.inbox->close();  // deliver() calls from now on are deferred at once
            asio::post(s.io, [&s] { s.begin_stop(); });
        }
    }
    // From a callback on the loop itself the thread cannot be joined; it ends on its own.
    if (std::this_thread::get_id() == s.thread.get_id()) return;
    std::lock_guard lock(s.join_mutex);
    if (!s.thread.joinable()) return;
    s.thread.join();
    // Jobs the loop did not finish within kStopGrace: deferred here, on this thread.
    for (const JobPtr& j : std::exchange(s.in_flight, {}))
        finish_job(j, uniform(j->job, shutting_down(), Outcome::Deferred, false, ""), "", "");
}

}  // namespace ehlo::delivery

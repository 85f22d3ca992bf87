// LmtpDelivery: the LMTP connections on their own event loop (lmtp_delivery.hpp). An Asio TU
// like the other remote_*.cpp files; the protocol itself is LmtpSession's.
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>

#include <algorithm>
#include <array>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "delivery/lmtp_delivery.hpp"
#include "delivery/lmtp_session.hpp"
#include "observe/log.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::delivery {

namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using Socket = asio::generic::stream_protocol::socket;
constexpr auto use_tuple = asio::experimental::as_tuple(asio::use_awaitable);

constexpr std::size_t kWriteChunk = 64 * 1024;
constexpr Millis kQuitWait{2000};
constexpr Millis kStopGrace{5000};

smtp::Reply shutting_down() { return {451, "4.3.2", "Delivery stopped: shutting down"}; }

const char* outcome_name(Outcome o) {
    switch (o) {
    case Outcome::Delivered: return "delivered";
    case Outcome::Deferred: return "deferred";
    case Outcome::Failed: return "failed";
    }
    return "?";
}

struct Job {
    RemoteJob job;
    std::function<void(RemoteOutcome)> done;
    bool completed = false;
};
using JobPtr = std::shared_ptr<Job>;

RemoteOutcome uniform(const RemoteJob& job, const smtp::Reply& reply, Outcome outcome, bool remote) {
    RemoteOutcome o;
    for (std::size_t index : job.recipients) o.recipients.push_back(RecipientResult{index, reply, outcome, remote});
    return o;
}

// One log line per recipient, then `done`, once.
void finish_job(const JobPtr& j, RemoteOutcome outcome, const std::string& server) {
    if (j->completed) return;
    j->completed = true;
    outcome.remote_mta = server;
    const auto& rcpts = j->job.envelope.recipients;
    for (const RecipientResult& r : outcome.recipients) {
        observe::info("lmtp-attempt", {{"id", j->job.queue_id},
                                       {"to", r.index < rcpts.size() ? rcpts[r.index].address.str() : std::string{}},
                                       {"server", server},
                                       {"reply", r.reply.one_line()},
                                       {"outcome", outcome_name(r.outcome)}});
    }
    try {
        j->done(std::move(outcome));
    } catch (const std::exception& e) {
        observe::error("lmtp-callback-failed", {{"id", j->job.queue_id}, {"error", e.what()}});
    }
}

std::string server_name(const RemoteTarget& t) {
    if (!t.socket.empty()) return "unix:" + t.socket;
    return t.host.value_or(t.domain) + ":" + std::to_string(t.port);
}

struct ContentPiece {
    std::shared_ptr<ContentReader> reader;
    std::string text;
    std::error_code error;
};

// On the file thread: the spool is a disk, never read on the loop.
asio::awaitable<ContentPiece> read_piece(std::shared_ptr<const ContentSource> source, std::shared_ptr<ContentReader> reader) {
    ContentPiece p;
    if (!reader) {
        reader = source->open(p.error);
        if (!reader) co_return p;
    }
    p.error = reader->next(p.text);
    p.reader = std::move(reader);
    co_return p;
}

enum class Io { Ok, Timeout, Interrupted, Lost };

}  // namespace

struct LmtpDelivery::Impl {
    struct Dest;

    struct Conn : std::enable_shared_from_this<Conn> {
        Conn(asio::io_context& io, std::string k, RemoteTarget t, std::string lhlo)
            : key(std::move(k)), target(std::move(t)), socket(io), guard(io), session(std::move(lhlo)) {}
        std::string key;
        RemoteTarget target;
        Socket socket;
        asio::steady_timer guard;
        LmtpSession session;
        std::array<char, 16 * 1024> buffer{};
        JobPtr current;
        std::shared_ptr<ContentReader> content;
        bool idle = false;
        bool stop_requested = false;
        bool timed_out = false;
        std::uint64_t generation = 0;

        void arm(Clock::time_point deadline) {
            timed_out = false;
            const std::uint64_t g = ++generation;
            guard.expires_at(deadline);
            guard.async_wait([weak = weak_from_this(), g](asio::error_code ec) {
                const auto c = weak.lock();
                if (ec || !c || c->generation != g) return;
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
        void interrupt() {
            asio::error_code ignored;
            socket.cancel(ignored);
        }
    };
    using ConnPtr = std::shared_ptr<Conn>;

    struct Dest {
        std::deque<JobPtr> waiting;
        std::vector<ConnPtr> conns;
    };

    explicit Impl(LmtpOptions o) : options(std::move(o)) {
        options.max_connections_per_destination = std::max<std::size_t>(options.max_connections_per_destination, 1);
        options.max_messages_per_connection = std::max<std::size_t>(options.max_messages_per_connection, 1);
        if (!(options.timeout_scale > 0)) options.timeout_scale = 1.0;
    }

    LmtpOptions options;
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    asio::steady_timer grace{io};
    asio::thread_pool files{1};
    std::mutex inbox_mutex;
    bool open = true;
    std::mutex stop_mutex;
    bool stop_posted = false;
    std::thread thread;

    // Loop thread only.
    std::unordered_map<std::string, Dest> dests;
    std::unordered_set<JobPtr> in_flight;
    bool stopping = false;

    Millis scaled(Millis d) const {
        const double ms = static_cast<double>(d.count()) * options.timeout_scale;
        return Millis(std::max<Millis::rep>(1, static_cast<Millis::rep>(ms)));
    }

    void complete(const JobPtr& j, RemoteOutcome outcome, const std::string& server) {
        in_flight.erase(j);
        finish_job(j, std::move(outcome), server);
    }

    void accept(JobPtr j) {
        if (stopping) return complete(j, uniform(j->job, shutting_down(), Outcome::Deferred, false), "");
        if (j->job.recipients.empty()) return complete(j, RemoteOutcome{}, "");
        in_flight.insert(j);
        const std::string key = j->job.target.key();
        Dest& d = dests[key];
        d.waiting.push_back(j);
        dispatch(key, j->job.target);
    }

    // An idle connection is woken for the job; else a new one opens within the limit.
    void dispatch(const std::string& key, const RemoteTarget& target) {
        Dest& d = dests[key];
        if (d.waiting.empty() || stopping) return;
        for (const ConnPtr& c : d.conns)
            if (c->idle) {
                c->idle = false;
                c->interrupt();
                return;
            }
        if (d.conns.size() >= options.max_connections_per_destination) return;
        auto c = std::make_shared<Conn>(io, key, target, options.lhlo_name);
        d.conns.push_back(c);
        asio::co_spawn(io, run(c), [this, c](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    observe::error("lmtp-connection-error", {{"server", server_name(c->target)}, {"error", ex.what()}});
                }
                if (c->current) complete(c->current, uniform(c->current->job, {451, "4.3.0", "LMTP delivery failed"}, Outcome::Deferred, false), server_name(c->target));
            }
            release(c);
        });
    }

    void release(const ConnPtr& c) {
        asio::error_code ignored;
        c->socket.close(ignored);
        Dest& d = dests[c->key];
        d.conns.erase(std::remove(d.conns.begin(), d.conns.end(), c), d.conns.end());
        if (!d.waiting.empty()) dispatch(c->key, c->target);
    }

    // Every waiting job of the connection's server is Deferred with `reply`: they would meet
    // the same. Deferred even for a 5xx greeting or LHLO: the server is our own mailbox store,
    // and a refusal of the connection is a fault to be mended, not an answer about the mail.
    void fail_waiting(const ConnPtr& c, const smtp::Reply& reply, bool remote) {
        Dest& d = dests[c->key];
        std::deque<JobPtr> waiting = std::move(d.waiting);
        d.waiting.clear();
        for (const JobPtr& j : waiting) complete(j, uniform(j->job, reply, Outcome::Deferred, remote), server_name(c->target));
    }

    asio::awaitable<Io> read(ConnPtr c, Clock::time_point deadline, std::string& bytes) {
        c->arm(deadline);
        auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(c->buffer), use_tuple);
        const bool timed_out = c->disarm();
        if (ec) co_return timed_out ? Io::Timeout : ec == asio::error::operation_aborted ? Io::Interrupted : Io::Lost;
        bytes.assign(c->buffer.data(), n);
        co_return Io::Ok;
    }

    asio::awaitable<Io> write(ConnPtr c, std::string bytes) {
        std::size_t offset = 0;
        while (offset < bytes.size()) {
            const std::size_t n = std::min(kWriteChunk, bytes.size() - offset);
            c->arm(Clock::now() + scaled(kDataBlockTimeout));
            auto [ec, written] = co_await asio::async_write(c->socket, asio::buffer(bytes.data() + offset, n), use_tuple);
            const bool timed_out = c->disarm();
            if (ec) co_return timed_out ? Io::Timeout : ec == asio::error::operation_aborted ? Io::Interrupted : Io::Lost;
            offset += written;
        }
        co_return Io::Ok;
    }

    // Connects to the socket or to host:port (each address in turn), within connect_timeout.
    asio::awaitable<std::string> connect(ConnPtr c) {
        const auto deadline = Clock::now() + options.connect_timeout;
        if (!c->target.socket.empty()) {
            c->arm(deadline);
            auto [ec] = co_await c->socket.async_connect(asio::local::stream_protocol::endpoint(c->target.socket), use_tuple);
            const bool timed_out = c->disarm();
            if (!ec) co_return std::string{};
            co_return timed_out ? std::string("timed out") : ec.message();
        }
        asio::ip::tcp::resolver resolver(io);
        const std::string host = c->target.host.value_or(c->target.domain);
        auto [rec, results] = co_await resolver.async_resolve(host, std::to_string(c->target.port), use_tuple);
        if (rec) co_return "cannot resolve " + host + ": " + rec.message();
        std::string error = "no address";
        for (const auto& entry : results) {
            asio::error_code ignored;
            c->socket.close(ignored);
            c->arm(deadline);
            auto [ec] = co_await c->socket.async_connect(asio::generic::stream_protocol::endpoint(entry.endpoint()), use_tuple);
            const bool timed_out = c->disarm();
            if (!ec) co_return std::string{};
            error = timed_out ? std::string("timed out") : ec.message();
            if (c->stop_requested || Clock::now() >= deadline) break;
        }
        co_return error;
    }

    void abort(const ConnPtr& c, const std::string& reason) { c->session.abort(reason); }

    // Until nothing is awaited (ready, between messages), the message has its result, or the
    // session is finished; each reply under its RFC 5321 4.5.3.2 time (scaled).
    asio::awaitable<std::optional<MessageResult>> converse(ConnPtr c, bool goodbye) {
        LmtpSession& s = c->session;
        const std::string label = server_name(c->target);
        ClientWait timed = ClientWait::Nothing;
        Clock::time_point deadline{};
        while (true) {
            if (!goodbye && c->stop_requested && !s.finished()) abort(c, "Shutting down");
            if (std::string out = s.take_output(); !out.empty()) {
                timed = ClientWait::Nothing;
                switch (co_await write(c, std::move(out))) {
                case Io::Ok: break;
                case Io::Timeout: abort(c, "Timed out sending to " + label); break;
                case Io::Interrupted: abort(c, "Shutting down"); break;
                case Io::Lost: abort(c, "Connection lost with " + label); break;
                }
            }
            if (auto result = s.take_result()) co_return result;
            // A session that failed has settled its message (the result above); the reply to
            // the QUIT it sent is awaited only when saying goodbye, and then briefly.
            if (s.finished() || (!goodbye && s.failed())) co_return std::nullopt;
            if (s.wants_content()) {
                co_await give_content(c);
                continue;
            }
            const ClientWait wait = s.awaiting();
            if (wait == ClientWait::Nothing) co_return std::nullopt;
            if (wait != timed) {
                Millis limit = scaled(timeout_of(wait));
                if (goodbye) limit = std::min(limit, kQuitWait);
                deadline = Clock::now() + limit;
                timed = wait;
            }
            std::string bytes;
            switch (co_await read(c, deadline, bytes)) {
            case Io::Ok: s.feed(bytes); break;
            case Io::Timeout: abort(c, "Timed out waiting for a reply from " + label); break;
            case Io::Lost: abort(c, "Connection lost with " + label); break;
            case Io::Interrupted: break;
            }
        }
    }

    asio::awaitable<void> give_content(ConnPtr c) {
        LmtpSession& s = c->session;
        if (!c->current || !c->current->job.content) {
            abort(c, "No content to send");
            co_return;
        }
        ContentPiece piece =
            co_await asio::co_spawn(files, read_piece(c->current->job.content, c->content), asio::use_awaitable);
        if (!s.wants_content()) co_return;
        if (piece.error || !piece.reader) {
            const std::string why = piece.error ? piece.error.message() : std::string("cannot open");
            observe::error("lmtp-content-error", {{"id", c->current->job.queue_id}, {"error", why}});
            abort(c, "Cannot read the message content: " + why);  // no final ".": nothing half delivered
            c->content.reset();
            co_return;
        }
        c->content = std::move(piece.reader);
        if (piece.text.empty()) {
            s.end_content();
            c->content.reset();
        } else {
            s.send_content(piece.text);
        }
    }

    asio::awaitable<void> run(ConnPtr c) {
        const std::string label = server_name(c->target);
        if (const std::string error = co_await connect(c); !error.empty()) {
            observe::warn("lmtp-connect-failed", {{"server", label}, {"error", error}});
            fail_waiting(c, {451, "4.4.1", "Cannot connect to the LMTP server " + label + ": " + error}, false);
            co_return;
        }
        (void)co_await converse(c, false);  // greeting and LHLO
        if (c->session.failed() || c->session.finished()) {
            fail_waiting(c, c->session.connection_error(), true);
            co_return;
        }
        std::size_t messages = 0;
        while (!c->stop_requested) {
            Dest& d = dests[c->key];
            if (d.waiting.empty()) {
                // Idle: wait for a job (dispatch() interrupts the read), or for the server to
                // say 421 and go; QUIT once idle_keep has passed.
                c->idle = true;
                const auto until = Clock::now() + options.idle_keep;
                std::string bytes;
                const Io io_result = co_await read(c, until, bytes);
                c->idle = false;
                if (io_result == Io::Ok) c->session.feed(bytes);
                if (io_result == Io::Lost) c->session.abort("Connection lost with " + label);
                if (c->session.finished() || c->session.failed() || io_result == Io::Timeout) break;
                continue;
            }
            JobPtr j = d.waiting.front();
            d.waiting.pop_front();
            c->current = j;
            OutboundMessage m;
            m.envelope = j->job.envelope;
            m.recipient_indexes = j->job.recipients;
            m.content_size = j->job.content_size;
            m.eight_bit = j->job.eight_bit;
            m.needs_smtputf8 = j->job.needs_smtputf8;
            c->session.send(std::move(m));
            std::optional<MessageResult> result = co_await converse(c, false);
            c->current = nullptr;
            c->content.reset();
            RemoteOutcome outcome;
            if (result)
                outcome.recipients = std::move(result->recipients);
            else
                outcome = uniform(j->job, {421, "4.4.2", "Connection lost with " + label}, Outcome::Deferred, false);
            complete(j, std::move(outcome), label);
            if (c->session.failed() || c->session.finished() || ++messages >= options.max_messages_per_connection) break;
        }
        if (!c->session.finished()) {
            c->session.quit();
            (void)co_await converse(c, true);
        }
    }

    void begin_stop() {
        stopping = true;
        for (auto& [key, d] : dests) {
            std::deque<JobPtr> waiting = std::move(d.waiting);
            d.waiting.clear();
            for (const JobPtr& j : waiting) complete(j, uniform(j->job, shutting_down(), Outcome::Deferred, false), "");
            for (const ConnPtr& c : d.conns) {
                c->stop_requested = true;
                c->interrupt();
            }
        }
        work.reset();
        grace.expires_after(kStopGrace);
        grace.async_wait([this](asio::error_code ec) {
            if (!ec) io.stop();
        });
        // Once every connection is gone there is nothing left to wait for.
        asio::post(io, [this] { check_idle(); });
    }

    void check_idle() {
        for (const auto& [key, d] : dests)
            if (!d.conns.empty()) {
                auto t = std::make_shared<asio::steady_timer>(io, Millis(20));
                t->async_wait([this, t](asio::error_code) { check_idle(); });
                return;
            }
        grace.cancel();
    }
};

LmtpDelivery::LmtpDelivery(LmtpOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
    Impl* s = impl_.get();
    s->thread = std::thread([s] {
        observe::name_this_thread("ehlo-lmtp");
        while (true) {
            try {
                s->io.run();
                return;
            } catch (const std::exception& e) {
                observe::error("lmtp-loop-error", {{"error", e.what()}});
            }
        }
    });
}

LmtpDelivery::~LmtpDelivery() { stop(); }

void LmtpDelivery::deliver(RemoteJob job, std::function<void(RemoteOutcome)> done) {
    if (!done) throw std::invalid_argument("LmtpDelivery::deliver: no callback");
    if (!job.content) throw std::invalid_argument("LmtpDelivery::deliver: no content");
    if (!job.target.lmtp) throw std::invalid_argument("LmtpDelivery::deliver: not an LMTP target");
    for (std::size_t index : job.recipients)
        if (index >= job.envelope.recipients.size())
            throw std::invalid_argument("LmtpDelivery::deliver: recipient index out of range");
    auto j = std::make_shared<Job>(Job{std::move(job), std::move(done), false});
    Impl* s = impl_.get();
    {
        std::lock_guard lock(s->inbox_mutex);
        if (s->open) {
            asio::post(s->io, [s, j] { s->accept(j); });
            return;
        }
    }
    finish_job(j, uniform(j->job, shutting_down(), Outcome::Deferred, false), "");
}

void LmtpDelivery::stop() {
    Impl& s = *impl_;
    {
        std::lock_guard lock(s.stop_mutex);
        if (s.stop_posted) return;
        s.stop_posted = true;
    }
    {
        std::lock_guard lock(s.inbox_mutex);
        s.open = false;
    }
    asio::post(s.io, [&s] { s.begin_stop(); });
    if (s.thread.joinable() && std::this_thread::get_id() != s.thread.get_id()) s.thread.join();
    s.files.join();
    for (const JobPtr& j : std::exchange(s.in_flight, {}))
        finish_job(j, uniform(j->job, shutting_down(), Outcome::Deferred, false), "");
}

}  // namespace ehlo::delivery

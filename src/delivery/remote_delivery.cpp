// Onward delivery's connection pool: jobs accepted from any thread onto the loop, then given
// to an idle connection of their destination or a new one, within the limits per destination
// and in all, first come first served; drain and stop.
#include "delivery/remote_internal.hpp"
#include "observe/thread_name.hpp"

#include <stdexcept>

namespace ehlo::delivery {

void RemoteDelivery::Impl::run_loop() {
    while (true) {
        try {
            io.run();
            return;
        } catch (const std::exception& e) {
            observe::error("remote-loop-error", {{"error", e.what()}});
        }
    }
}

void RemoteDelivery::Impl::complete(const JobPtr& j, RemoteOutcome outcome, const std::string& host, const std::string& ip) {
    in_flight.erase(j);
    finish_job(j, std::move(outcome), host, ip);
}

void RemoteDelivery::Impl::complete_uniform(const JobPtr& j, const smtp::Reply& reply, Outcome outcome) {
    complete(j, uniform(j->job, reply, outcome, false, ""), "", "");
}

void RemoteDelivery::Impl::accept(JobPtr j) {
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
void RemoteDelivery::Impl::dispatch(Destination& d) {
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
void RemoteDelivery::Impl::reclaim_idle() {
    for (auto& [key, other] : destinations)
        for (const ConnPtr& c : other.conns)
            if (c->state == Conn::State::Idle) {
                c->state = Conn::State::Closing;
                c->interrupt();
                return;
            }
}

void RemoteDelivery::Impl::open(Destination& d, JobPtr first) {
    auto c = std::make_shared<Conn>(io, d, std::move(first));
    d.conns.push_back(c);
    ++open_connections;
    asio::co_spawn(io, run(c), [this, c](std::exception_ptr e) {
        if (e) crashed(c, e);
    });
}

// A job taken for a connection that cannot carry it after all goes back to the head of its line.
void RemoteDelivery::Impl::requeue(Destination& d, JobPtr j) {
    if (stopping) return complete_uniform(j, shutting_down(), Outcome::Deferred);
    d.waiting.push_front(std::move(j));
}

void RemoteDelivery::Impl::release(const ConnPtr& c) {
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

void RemoteDelivery::Impl::crashed(const ConnPtr& c, std::exception_ptr e) {
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
void RemoteDelivery::Impl::give_up(const ConnPtr& c, const smtp::Reply& reply, Outcome outcome, bool remote,
                                   bool session, const std::optional<TlsHandshake>& tls) {
    const std::string mta = remote ? c->label() : std::string{};
    auto outcome_of = [&](const JobPtr& j) {
        RemoteOutcome o = uniform(j->job, reply, outcome, remote, mta);
        o.connected = session;  // e.g. a certificate `verify` refused: the log says which
        o.tls = tls;
        return o;
    };
    if (JobPtr j = std::exchange(c->job, nullptr)) complete(j, outcome_of(j), c->host, c->ip);
    Destination& d = c->dest;
    if (d.has_established()) return;
    std::deque<JobPtr> waiting = std::move(d.waiting);
    d.waiting.clear();
    for (const JobPtr& j : waiting) complete(j, outcome_of(j), c->host, c->ip);
}

// A stopping server: a transaction already under way runs to its end (its message may be
// past the final dot: cutting it now would send it again after the restart), jobs still
// waiting are deferred at once, idle connections say QUIT.
void RemoteDelivery::Impl::begin_drain() {
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

void RemoteDelivery::Impl::begin_stop() {
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

RemoteDelivery::RemoteDelivery(RemoteOptions options, Resolver& resolver)
    : impl_(std::make_unique<Impl>(std::move(options), resolver)) {
    Impl* s = impl_.get();
    s->thread = std::thread([s] {
        observe::name_this_thread("ehlo-remote");
        s->run_loop();
    });
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
    s.files.join();  // a read still under way finishes; its answer goes to the stopped loop
    // Jobs the loop did not finish within kStopGrace: deferred here, on this thread.
    for (const JobPtr& j : std::exchange(s.in_flight, {}))
        finish_job(j, uniform(j->job, shutting_down(), Outcome::Deferred, false, ""), "", "");
}

}  // namespace ehlo::delivery

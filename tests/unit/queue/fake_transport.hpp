// Stand-ins for the onward side in the queue's tests: a RemoteTransport that records every job
// and answers with scripted outcomes on a thread of its own (as the real one answers on its
// event loop), and a clock the test moves by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "delivery/remote_transport.hpp"

namespace ehlo::queue::testing {

inline const std::string kRemoteMta = "mx.remote.test [192.0.2.25]";

// The same outcome for every recipient of `job`.
inline delivery::RemoteOutcome answer_all(const delivery::RemoteJob& job, delivery::Outcome outcome,
                                          const smtp::Reply& reply) {
    delivery::RemoteOutcome out;
    out.remote_mta = kRemoteMta;
    for (std::size_t i : job.recipients) out.recipients.push_back({i, reply, outcome, true});
    return out;
}

inline smtp::Reply ok_reply() { return smtp::Reply(250, "2.0.0", "Ok: queued"); }
inline smtp::Reply try_later() { return smtp::Reply(451, "4.7.1", "Greylisted, try later"); }
inline smtp::Reply no_such_user() { return smtp::Reply(550, "5.1.1", "No such user"); }

class FakeTransport final : public delivery::RemoteTransport {
public:
    // Returns the outcome for a job, or nothing to keep the job unanswered (answer_held()).
    using Script = std::function<std::optional<delivery::RemoteOutcome>(const delivery::RemoteJob&)>;

    explicit FakeTransport(Script script = {}) : script_(std::move(script)), thread_([this] { run(); }) {}
    ~FakeTransport() override {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }

    void set_script(Script script) {
        std::lock_guard lock(mutex_);
        script_ = std::move(script);
    }

    void deliver(delivery::RemoteJob job, std::function<void(delivery::RemoteOutcome)> done) override {
        std::lock_guard lock(mutex_);
        jobs_.push_back(job);
        std::optional<delivery::RemoteOutcome> outcome = script_ ? script_(job) : std::nullopt;
        if (outcome)
            answers_.push_back([done = std::move(done), o = std::move(*outcome)]() mutable { done(std::move(o)); });
        else
            held_.push_back({std::move(job), std::move(done)});
        wake_.notify_one();
    }

    // Answers the oldest unanswered job (on the transport's thread); false if there is none.
    bool answer_held(const std::function<delivery::RemoteOutcome(const delivery::RemoteJob&)>& answer) {
        std::lock_guard lock(mutex_);
        if (held_.empty()) return false;
        Held h = std::move(held_.front());
        held_.pop_front();
        delivery::RemoteOutcome outcome = answer(h.job);
        answers_.push_back([done = std::move(h.done), o = std::move(outcome)]() mutable { done(std::move(o)); });
        wake_.notify_one();
        return true;
    }

    std::vector<delivery::RemoteJob> jobs() const {
        std::lock_guard lock(mutex_);
        return jobs_;
    }
    std::size_t job_count() const {
        std::lock_guard lock(mutex_);
        return jobs_.size();
    }
    std::size_t held_count() const {
        std::lock_guard lock(mutex_);
        return held_.size();
    }

private:
    struct Held {
        delivery::RemoteJob job;
        std::function<void(delivery::RemoteOutcome)> done;
    };

    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return stopping_ || !answers_.empty(); });
            if (answers_.empty()) return;
            auto answer = std::move(answers_.front());
            answers_.pop_front();
            lock.unlock();
            answer();
            lock.lock();
        }
    }

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    Script script_;
    std::vector<delivery::RemoteJob> jobs_;
    std::deque<Held> held_;
    std::deque<std::function<void()>> answers_;
    bool stopping_ = false;
    std::thread thread_;
};

// Unix time in whole seconds, moved by the test.
class FakeClock {
public:
    explicit FakeClock(std::int64_t unix_seconds = 1'700'000'000) : seconds_(unix_seconds) {}
    std::function<std::chrono::system_clock::time_point()> function() {
        return [this] { return std::chrono::system_clock::time_point(std::chrono::seconds(seconds_.load())); };
    }
    void advance(std::int64_t seconds) { seconds_ += seconds; }
    void set(std::int64_t unix_seconds) { seconds_ = unix_seconds; }
    std::int64_t now() const { return seconds_.load(); }

private:
    std::atomic<std::int64_t> seconds_;
};

}  // namespace ehlo::queue::testing

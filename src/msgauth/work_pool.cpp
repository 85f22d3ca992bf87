#include "msgauth/work_pool.hpp"

#include <exception>

#include "observe/log.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::msgauth {

WorkPool::WorkPool(unsigned threads) {
    if (threads == 0) threads = 1;
    for (unsigned i = 0; i < threads; ++i)
        threads_.emplace_back([this] {
            observe::name_this_thread("ehlo-msgauth");
            run();
        });
}

WorkPool::~WorkPool() { stop(); }

void WorkPool::stop() {
    std::deque<std::function<void()>> dropped;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        dropped.swap(work_);
    }
    wake_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

void WorkPool::post(std::function<void()> work) {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        work_.push_back(std::move(work));
    }
    wake_.notify_one();
}

void WorkPool::run() {
    for (;;) {
        std::function<void()> work;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !work_.empty(); });
            if (stopping_) return;
            work = std::move(work_.front());
            work_.pop_front();
        }
        // A step that throws ends itself, not the daemon.
        try {
            work();
        } catch (const std::exception& e) {
            observe::error("msgauth-error", {{"error", e.what()}});
        } catch (...) {
            observe::error("msgauth-error", {{"error", "unknown exception"}});
        }
    }
}

}  // namespace ehlo::msgauth

// Threads for message authentication's CPU work (SPF evaluation, DKIM and ARC signature checks,
// DKIM signing): the DNS answers and the end-of-data steps are posted here, so that no RSA or
// Ed25519 operation runs on an event loop. What waits here is a few steps per check under
// way; the checks under way are bounded by the sessions (connection limits) and what each
// client may start (message_rate).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ehlo::msgauth {

class WorkPool {
public:
    explicit WorkPool(unsigned threads);
    ~WorkPool();  // stop()
    WorkPool(const WorkPool&) = delete;
    WorkPool& operator=(const WorkPool&) = delete;

    // Work posted after stop() is dropped.
    void post(std::function<void()> work);
    // Lets the work running now finish, drops what waits (its sessions are gone), joins.
    void stop();

private:
    void run();
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> work_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace ehlo::msgauth

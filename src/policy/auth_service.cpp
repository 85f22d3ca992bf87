#include "policy/auth_service.hpp"

#include <sodium.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "policy/password_hash.hpp"
#include "observe/thread_name.hpp"

namespace ehlo::policy {
namespace {

struct Request {
    std::string address;
    std::string user;
    std::string password;
    AuthService::Answer answer;
    AuthService::Clock::time_point received;
};

std::string random_password() {
    unsigned char bytes[24];
    randombytes_buf(bytes, sizeof bytes);
    char hex[sizeof bytes * 2 + 1];
    sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
    return hex;
}

}  // namespace

struct AuthService::Impl {
    Credentials& credentials;
    AuthLimiter limiter;
    std::size_t max_pending;
    std::string dummy_hash;  // stands in for the hash of a user who does not exist
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<Request> pending;
    bool stopping = false;
    std::vector<std::thread> threads;

    Impl(Credentials& c, AuthLimiter::Settings limits, std::size_t max)
        : credentials(c), limiter(limits), max_pending(max), dummy_hash(hash_password(random_password())) {}

    void run() {
        std::unique_lock lock(mutex);
        for (;;) {
            cv.wait(lock, [this] { return stopping || !pending.empty(); });
            if (pending.empty()) return;
            Request r = std::move(pending.front());
            pending.pop_front();
            lock.unlock();
            check(r);
            lock.lock();
        }
    }

    void check(Request& r) {
        const auto floor = r.received + kMinAnswerTime;
        if (limiter.locked(r.address, r.user, Clock::now())) {
            sodium_memzero(r.password.data(), r.password.size());
            r.answer(AuthResult::Locked, floor);
            return;
        }
        const auto entry = credentials.find(r.user);
        // The same work whether or not the user exists.
        const bool match = verify_password(entry ? entry->hash : dummy_hash, r.password);
        sodium_memzero(r.password.data(), r.password.size());
        const auto now = Clock::now();
        if (match && entry) {
            limiter.succeeded(r.user);
            r.answer(AuthResult::Ok, std::max(floor, now));
            return;
        }
        const auto delay = limiter.failed(r.address, r.user, now);
        r.answer(AuthResult::Failed, std::max(floor, now) + delay);
    }
};

AuthService::AuthService(Credentials& credentials, AuthLimiter::Settings limits, unsigned threads, std::size_t max_pending)
    : credentials_(credentials), impl_(std::make_unique<Impl>(credentials, limits, max_pending)) {
    for (unsigned i = 0; i < std::max(1u, threads); ++i)
        impl_->threads.emplace_back([this] {
            observe::name_this_thread("ehlo-auth");
            impl_->run();
        });
}

AuthService::~AuthService() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->cv.notify_all();
    for (auto& t : impl_->threads) t.join();
}

void AuthService::verify(std::string client_address, std::string user, std::string password, Answer answer) {
    const auto now = Clock::now();
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->pending.size() < impl_->max_pending) {
            impl_->pending.push_back(Request{std::move(client_address), std::move(user), std::move(password), std::move(answer), now});
            impl_->cv.notify_one();
            return;
        }
    }
    sodium_memzero(password.data(), password.size());
    answer(AuthResult::Unavailable, now);
}

}  // namespace ehlo::policy

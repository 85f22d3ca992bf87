#include "policy/auth_limiter.hpp"

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ehlo::policy {
namespace {

struct Record {
    std::size_t failures = 0;
    AuthLimiter::Clock::time_point first{};  // of the failures counted now
    AuthLimiter::Clock::time_point last{};
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace

struct AuthLimiter::Impl {
    Settings settings;
    mutable std::mutex mutex;
    std::unordered_map<std::string, Record> records;  // "a:" + address, "u:" + user

    bool is_locked(const std::string& key, Clock::time_point now) const {
        auto it = records.find(key);
        return it != records.end() && it->second.failures >= settings.max_failures && now < it->second.last + settings.lockout;
    }

    std::size_t count(const std::string& key, Clock::time_point now) {
        Record& r = records[key];
        if (r.failures == 0 || now >= r.first + settings.lockout) r = Record{0, now, now};
        ++r.failures;
        r.last = now;
        return r.failures;
    }

    void prune(Clock::time_point now) {
        if (records.size() < kMaxTracked) return;
        std::erase_if(records, [&](const auto& kv) { return now >= kv.second.last + settings.lockout; });
        // Still full (a flood from many addresses): forget the addresses and users not locked.
        if (records.size() >= kMaxTracked)
            std::erase_if(records, [&](const auto& kv) { return kv.second.failures < settings.max_failures; });
    }
};

AuthLimiter::AuthLimiter(Settings settings) : impl_(std::make_unique<Impl>()) { impl_->settings = settings; }

AuthLimiter::~AuthLimiter() = default;

bool AuthLimiter::locked(std::string_view address, std::string_view user, Clock::time_point now) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->is_locked("a:" + std::string(address), now) || impl_->is_locked("u:" + lower(user), now);
}

std::chrono::milliseconds AuthLimiter::failed(std::string_view address, std::string_view user, Clock::time_point now) {
    std::lock_guard lock(impl_->mutex);
    impl_->prune(now);
    const std::size_t n = std::max(impl_->count("a:" + std::string(address), now), impl_->count("u:" + lower(user), now));
    const auto delay = impl_->settings.delay_per_failure * static_cast<long>(n);
    return std::min(delay, impl_->settings.max_delay);
}

void AuthLimiter::succeeded(std::string_view user) {
    std::lock_guard lock(impl_->mutex);
    impl_->records.erase("u:" + lower(user));
}

}  // namespace ehlo::policy

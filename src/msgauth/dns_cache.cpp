#include "msgauth/dns_cache.hpp"

#include <algorithm>

namespace ehlo::msgauth {

DnsCache::DnsCache(DnsCacheOptions options) : options_(options) {}

std::string DnsCache::key(DnsType type, const std::string& name) {
    return std::to_string(static_cast<unsigned>(type)) + ' ' + normal_dns_name(name);
}

std::optional<DnsAnswer> DnsCache::find(DnsType type, const std::string& name, std::int64_t now) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key(type, name));
    if (it == entries_.end()) return std::nullopt;
    if (now >= it->second.expires || now < it->second.stored) {
        lru_.erase(it->second.lru);
        entries_.erase(it);
        return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    DnsAnswer answer = it->second.answer;
    answer.ttl = static_cast<std::uint32_t>(it->second.expires - now);
    return answer;
}

void DnsCache::store(DnsType type, const std::string& name, const DnsAnswer& answer, std::int64_t now) {
    if (answer.status == DnsStatus::TempError || options_.max_entries == 0) return;
    const std::uint32_t cap = answer.status == DnsStatus::Ok ? options_.max_ttl : options_.max_negative_ttl;
    const std::uint32_t ttl = std::min(answer.ttl, cap);
    if (ttl == 0) return;
    std::string k = key(type, name);
    std::lock_guard lock(mutex_);
    if (const auto it = entries_.find(k); it != entries_.end()) {
        lru_.erase(it->second.lru);
        entries_.erase(it);
    }
    while (entries_.size() >= options_.max_entries && !lru_.empty()) {
        entries_.erase(lru_.back());
        lru_.pop_back();
    }
    lru_.push_front(k);
    Entry& e = entries_[std::move(k)];
    e.answer = answer;
    e.stored = now;
    e.expires = now + ttl;
    e.lru = lru_.begin();
}

std::size_t DnsCache::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

CachingDnsLookup::CachingDnsLookup(DnsLookup& upstream, DnsCache& cache, Now now)
    : upstream_(upstream), cache_(cache), now_(std::move(now)) {}

void CachingDnsLookup::query(DnsType type, const std::string& name, Done done) {
    if (auto hit = cache_.find(type, name, now_())) return done(std::move(*hit));
    upstream_.query(type, name, [this, type, name, done = std::move(done)](DnsAnswer answer) {
        cache_.store(type, name, answer, now_());
        done(std::move(answer));
    });
}

}  // namespace ehlo::msgauth

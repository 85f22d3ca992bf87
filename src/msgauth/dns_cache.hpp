// DNS answers kept for their TTL, so that the SPF, DKIM key and DMARC records of a busy sender
// are asked for once per TTL rather than once per message. Bounded: at most `max_entries`
// answers, the least recently used going first. Time comes from the caller (a function
// returning seconds): the cache itself reads no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "msgauth/dns.hpp"

namespace ehlo::msgauth {

struct DnsCacheOptions {
    std::size_t max_entries = 100000;
    // A zone may publish TTLs of weeks; a record that changes must still be seen within a day.
    std::uint32_t max_ttl = 86400;
    // RFC 2308 5: negative answers are cached too, at most this long (their SOA minimum).
    std::uint32_t max_negative_ttl = 3600;
};

// The store itself: (name, type) -> answer until its TTL runs out. Thread-safe.
class DnsCache {
public:
    explicit DnsCache(DnsCacheOptions options = {});

    // The answer if one is stored and fresh at `now`, with its TTL lowered by its age.
    std::optional<DnsAnswer> find(DnsType type, const std::string& name, std::int64_t now);
    // Stores Ok, NxDomain and NoData answers; a TempError, or a TTL of 0, is not stored.
    void store(DnsType type, const std::string& name, const DnsAnswer& answer, std::int64_t now);
    std::size_t size() const;

private:
    struct Entry {
        DnsAnswer answer;
        std::int64_t stored = 0;
        std::int64_t expires = 0;
        std::list<std::string>::iterator lru;
    };
    static std::string key(DnsType type, const std::string& name);

    const DnsCacheOptions options_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> lru_;  // most recently used first
};

// A DnsLookup that answers from a DnsCache and asks `upstream` on a miss.
class CachingDnsLookup : public DnsLookup {
public:
    using Now = std::function<std::int64_t()>;  // seconds, any epoch, never going back
    CachingDnsLookup(DnsLookup& upstream, DnsCache& cache, Now now);
    void query(DnsType type, const std::string& name, Done done) override;

private:
    DnsLookup& upstream_;
    DnsCache& cache_;
    Now now_;
};

}  // namespace ehlo::msgauth

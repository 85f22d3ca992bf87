// How message authentication asks the DNS: a small asynchronous interface of msgauth's own, so
// that the evaluators (DKIM key records, SPF, DMARC) never block and never know whose resolver
// answers. The daemon answers through delivery::Resolver (resolver_dns.hpp); tests answer from
// memory; a DnsCache (dns_cache.hpp) can sit in between.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ehlo::msgauth {

// RFC 1035 3.2.2, RFC 3596 2.1: the record types message authentication asks for.
enum class DnsType : std::uint16_t { A = 1, Ptr = 12, Mx = 15, Txt = 16, Aaaa = 28 };

enum class DnsStatus {
    Ok,         // records (at least one)
    NxDomain,   // RCODE 3: the name does not exist
    NoData,     // the name exists but has no record of this type
    TempError,  // SERVFAIL, REFUSED, timeout, malformed answer: the question may succeed later
};

struct DnsAnswer {
    DnsStatus status = DnsStatus::TempError;
    // One string per record: TXT the record's character-strings joined (RFC 6376 3.6.2.2,
    // RFC 7208 3.3); A and AAAA the address as text ("192.0.2.1", "2001:db8::1"); MX the
    // exchange host name in lower case without the trailing dot (preferences are not needed
    // here); PTR the target name, likewise.
    std::vector<std::string> records;
    std::uint32_t ttl = 0;  // seconds; for NxDomain/NoData the negative-caching time
    std::string error;      // TempError: what went wrong, for the evaluation path
};

const char* dns_type_name(DnsType type);
const char* dns_status_name(DnsStatus status);

// `done` is called exactly once per query: possibly before query() returns (a cache hit, the
// in-memory tests), possibly later on another thread (the resolver's). Callers must accept
// both. Implementations must answer TempError, never hang, when the DNS does not answer.
class DnsLookup {
public:
    using Done = std::function<void(DnsAnswer)>;
    virtual ~DnsLookup() = default;

    virtual void query(DnsType type, const std::string& name, Done done) = 0;

    void txt(const std::string& name, Done done) { query(DnsType::Txt, name, std::move(done)); }
    void a(const std::string& name, Done done) { query(DnsType::A, name, std::move(done)); }
    void aaaa(const std::string& name, Done done) { query(DnsType::Aaaa, name, std::move(done)); }
    void mx(const std::string& name, Done done) { query(DnsType::Mx, name, std::move(done)); }
    void ptr(const std::string& name, Done done) { query(DnsType::Ptr, name, std::move(done)); }
};

// "a.Example." -> "a.example": DNS names compare case-insensitively (RFC 4343).
std::string normal_dns_name(std::string_view name);

// A name we are willing to put in a query: 1..63 octets a label, at most 253 in all, visible
// ASCII without '\\' (libunbound reads text names with escapes) and without empty labels.
// Underscores are allowed: "_dmarc.example.org", "sel._domainkey.example.org".
bool is_query_name(std::string_view name);

}  // namespace ehlo::msgauth

// Where mail for a domain goes: its MX records in RFC 5321 5.1 order (order_mx() in mx.hpp),
// then the addresses of each host. The DNS is asked through libunbound (which can validate
// DNSSEC, as DANE needs) on a thread of the resolver's own, so no event loop ever waits on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smtp/reply.hpp"

namespace ehlo::delivery {

// A hostile or broken zone can list hundreds of MX hosts or addresses; each costs queries and
// connection attempts. RFC 5321 5.1 lets the client limit the addresses it tries; these are
// the hosts looked up per domain (lowest preferences kept) and the addresses kept per host.
constexpr std::size_t kMaxMxHosts = 10;
constexpr std::size_t kMaxAddressesPerHost = 10;

struct ResolverOptions {
    // DNS servers to ask, "IP" or "IP@port" ("127.0.0.1@5353", "::1"); empty: the nameservers
    // of /etc/resolv.conf (or, if it has none, full recursion from the root).
    std::vector<std::string> forwarders;
    // Validate answers with DNSSEC against trust_anchor_file; a bogus answer is a TempFail.
    bool dnssec = false;
    std::string trust_anchor_file = "/usr/share/dns/root.key";
    // The whole lookup, MX and every address query together; past it the lookup is a TempFail.
    std::chrono::milliseconds timeout{10000};
    // Each hop's addresses: IPv4 first by default (an IPv6 path is more often missing than an
    // IPv4 one, and the client falls through to the next address anyway); IPv6 first if set.
    bool prefer_ipv6 = false;
    // This host's own names: an MX list that names one is cut there (RFC 5321 5.1; mx.hpp).
    std::vector<std::string> local_names;
    // libunbound serves 127.in-addr.arpa itself (RFC 6303 4.2): 127.0.0.1 is localhost, any
    // other loopback address has no name. If set, only 127.0.0.1 stays local and the other
    // names are asked of the forwarders (a local resolver that names them, a test's server).
    bool forward_loopback_reverse = false;
};

struct Address {
    std::string ip;  // "192.0.2.1" or "2001:db8::1"
    bool v6 = false;
};

struct NextHop {
    std::string host;                // lower case, no trailing "."; an address literal as given
    std::uint16_t preference = 0;    // 0 for the implicit MX and for lookup_addresses()
    std::vector<Address> addresses;  // never empty in a result
    bool secure = false;             // DNSSEC: every address answer validated secure
};

struct RouteLookup {
    enum class Status {
        Ok,        // hops to try, in order
        NullMx,    // RFC 7505: the domain accepts no mail (556 5.1.10)
        NotFound,  // no such domain, no MX and no address, or not a valid domain (550 5.1.2)
        Loop,      // the MX list leads back to this host (554 5.4.6)
        TempFail,  // DNS failure or timeout, or no MX host has an address: retry later (451 4.4.3)
    };
    Status status = Status::TempFail;
    std::vector<NextHop> hops;         // Ok only
    std::optional<smtp::Reply> reply;  // not Ok: what to tell the sender
    std::string error;                 // not Ok: the detail, for the log
    bool secure = false;               // DNSSEC: the MX answer validated secure (RFC 7672 2.2.1)
};

// The answer to one question of any type (query()): the records' rdata as they came off the
// wire, for callers that read types the route lookups do not (TXT, PTR for message
// authentication).
struct RawAnswer {
    enum class Status {
        Ok,        // at least one record
        NxDomain,  // RCODE 3: the name does not exist
        NoData,    // the name exists, but has no record of this type
        TempFail,  // SERVFAIL, REFUSED, DNSSEC-bogus, timeout, or the resolver stopped
    };
    Status status = Status::TempFail;
    std::vector<std::string> rdata;  // one entry per record, uncompressed wire bytes
    std::uint32_t ttl = 0;           // of the answer; for NxDomain/NoData the negative TTL
    bool secure = false;             // DNSSEC: validated secure
    std::string error;               // TempFail: the detail
};

// One resolver serves the whole process. Thread-safe. `done` is called exactly once per
// lookup, on the resolver's own thread: callers post the result to their own event loop and
// must not block in it. A callback may start new lookups or call stop(), but must not destroy
// the Resolver.
class Resolver {
public:
    using Done = std::function<void(RouteLookup)>;
    using RawDone = std::function<void(RawAnswer)>;

    // Throws std::runtime_error if libunbound refuses the options (a malformed forwarder).
    explicit Resolver(ResolverOptions options);
    ~Resolver();  // stop()
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // The route for mail to `domain`: its MX hosts by RFC 5321 5.1 (lowest preference first,
    // equal preferences shuffled), each with its A and AAAA addresses; a host with none is
    // skipped. No MX records: the domain itself at preference 0. An address literal
    // ("[192.0.2.1]", "[IPv6:2001:db8::1]", RFC 5321 4.1.3) is its own single hop, without DNS.
    void lookup_mx(std::string domain, Done done);

    // The A and AAAA addresses of one host (a configured relay or smart host), or an address
    // literal: Ok with one hop at preference 0, NotFound if the name has no address at all.
    void lookup_addresses(std::string host, Done done);

    // One question: `name` (a DNS name; underscores allowed, "_dmarc.example.org") of type
    // `rrtype` (RFC 1035 3.2.2), class IN, within the configured timeout like the other
    // lookups. A malformed name gets NxDomain without a query.
    void query(std::string name, std::uint16_t rrtype, RawDone done);

    // Ends every pending lookup with a TempFail and joins the resolver thread. A lookup asked
    // for after stop() gets its TempFail at once, on the caller's thread.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::delivery

// Real DNS servers on loopback for tests of the resolver and of onward delivery: no mocks.
//
// DnsTestServer runs Debian's unbound (/usr/sbin/unbound) on a free port of 127.0.0.1,
// answering only from the records the test gives it: every other name is NXDOMAIN (the zone
// "." is a static local zone), and it never sends a query anywhere (do-not-query-address
// covers every address). It is killed when the object goes, also when the test fails, and gets
// SIGKILL if the test process dies. To use it from another test binary, compile
// tests/unit/delivery/dns_test_server.cpp into it.
//
// Names under "test." cannot be used: libunbound itself answers NXDOMAIN for them without
// asking any server (RFC 6761 6.2, one of its default local zones), and so does unbound. Use
// "example." (RFC 2606), as the tests here do.
//
//     DnsTestServer dns({"a.example. MX 10 mx.a.example.", "mx.a.example. A 127.0.0.2"});
//     ResolverOptions o;
//     o.forwarders = {dns.forwarder()};  // "127.0.0.1@PORT"
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ehlo::delivery::testing {

inline constexpr const char* kUnboundBinary = "/usr/sbin/unbound";
inline constexpr std::chrono::seconds kDnsStartTimeout{10};  // until the server answers a query
inline constexpr std::chrono::seconds kDnsStopTimeout{5};    // after SIGTERM, before SIGKILL

class DnsTestServer {
public:
    // `records`: unbound local-data lines, e.g. "a.example. MX 10 mx1.a.example.", "a.example. MX 0 ."
    // (null MX), "mx1.a.example. AAAA ::1". `refused_zones`: names (and all below) answered REFUSED,
    // which a resolver reports as SERVFAIL. Throws std::runtime_error, with unbound's log, if
    // the server does not answer within kDnsStartTimeout.
    explicit DnsTestServer(std::vector<std::string> records, std::vector<std::string> refused_zones = {});
    ~DnsTestServer();
    DnsTestServer(const DnsTestServer&) = delete;
    DnsTestServer& operator=(const DnsTestServer&) = delete;

    std::uint16_t port() const { return port_; }
    std::string forwarder() const;                      // "127.0.0.1@PORT"
    const std::string& config() const { return config_; }  // the unbound.conf it runs with
    void stop();                                        // idempotent; the destructor calls it

    // The configuration DnsTestServer writes, for a server on 127.0.0.1:`port` working in `dir`.
    static std::string unbound_config(std::uint16_t port, const std::filesystem::path& dir,
                                      const std::vector<std::string>& records,
                                      const std::vector<std::string>& refused_zones);

private:
    bool try_start(std::uint16_t port, std::string& log);
    std::vector<std::string> records_;
    std::vector<std::string> refused_zones_;
    std::filesystem::path dir_;
    std::string config_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

// A DNS server that is up and never answers: UDP and TCP bound on 127.0.0.1 (TCP listening,
// never accepting), so that queries are neither refused nor answered.
class SilentDnsServer {
public:
    SilentDnsServer();
    ~SilentDnsServer();
    SilentDnsServer(const SilentDnsServer&) = delete;
    SilentDnsServer& operator=(const SilentDnsServer&) = delete;
    std::uint16_t port() const { return port_; }
    std::string forwarder() const;

private:
    int udp_ = -1;
    int tcp_ = -1;
    std::uint16_t port_ = 0;
};

// A port of 127.0.0.1 where nothing listens: a DNS server that is down (port unreachable).
std::uint16_t unused_loopback_port();

// True if a DNS server on 127.0.0.1:`port` answers a query within `timeout` (any answer).
bool dns_answers(std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace ehlo::delivery::testing

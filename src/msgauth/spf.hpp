// SPF (RFC 7208): check_host() for a client address and a sender, asked through DnsLookup one
// query at a time, with the limits of RFC 7208 4.6.4 (10 DNS-querying terms, 2 void lookups,
// 10 MX or PTR names), and the path of evaluation: which record said what, which term matched.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "msgauth/dns.hpp"
#include "msgauth/result.hpp"

namespace ehlo::msgauth {

// RFC 7208 4.6.4
constexpr int kSpfMaxLookups = 10;
constexpr int kSpfMaxVoidLookups = 2;
constexpr std::size_t kSpfMaxMxNames = 10;
constexpr std::size_t kSpfMaxPtrNames = 10;

struct SpfRequest {
    std::string ip;          // the SMTP client's address, as text
    std::string mail_from;   // the reverse-path without <>; empty for the null sender
    std::string helo;        // the EHLO/HELO name
    std::string receiver = "unknown";  // %{r}: our host name, for explanations
    std::int64_t now = 0;    // %{t}, seconds since the epoch
};

struct SpfVerdict {
    Result result = Result::None;  // none, neutral, pass, fail, softfail, temperror, permerror
    std::string identity;          // "mailfrom" or "helo" (RFC 7208 2.3, 2.4; RFC 8601 2.7.2)
    std::string sender;            // the identity checked: local@domain
    std::string domain;            // the domain check_host() started with
    std::string mechanism;         // the term that decided, as written ("-all"); empty if none
    std::string explanation;       // fail: the exp= text (RFC 7208 6.2), if any
    std::string problem;           // temperror/permerror: what went wrong
    std::vector<std::string> path; // one line per step, indented by include depth
    int lookups = 0;               // DNS-querying terms used
    int void_lookups = 0;
};

// The MAIL FROM identity, or postmaster@HELO for the null sender (RFC 7208 2.4). `done` is
// called once, maybe before check_spf() returns; `dns` must outlive it.
void check_spf(DnsLookup& dns, const SpfRequest& request, std::function<void(SpfVerdict)> done);

// check_host(ip, domain, sender) itself (RFC 7208 4); `helo` feeds %{h}.
void check_host(DnsLookup& dns, const std::string& ip, const std::string& domain, const std::string& sender,
                const std::string& helo, std::int64_t now, std::function<void(SpfVerdict)> done,
                const std::string& receiver = "unknown");

}  // namespace ehlo::msgauth

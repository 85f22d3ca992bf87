// An SMTP client's name as a receiving MTA records it (Postfix's smtpd_peername_lookup; the
// "iprev" of RFC 8601 2.7.3): a name the PTR of its address gives, confirmed by that name's A
// (IPv4) or AAAA (IPv6) records holding the address. Anyone may publish any PTR for their own
// addresses; only the forward records, in the name's own zone, tie the name to the client.
// SPF's validated domain (RFC 7208 7.3, %{p}) is the same name.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "msgauth/dns.hpp"
#include "msgauth/ip.hpp"

namespace ehlo::msgauth {

// PTR names tried per address (RFC 7208 4.6.4 allows SPF no more); the rest are ignored.
constexpr std::size_t kMaxClientNames = 10;

struct ClientName {
    std::string name;    // lower case, no trailing dot; empty: none
    std::string reason;  // no name: why ("no PTR", "PTR x.example not confirmed", "lookup failed: ...")
};

// The PTR answer's names worth a forward query: those fit for a Received header
// (smtp::is_client_host_name), normalised, each once, at most kMaxClientNames, in answer order.
std::vector<std::string> client_name_candidates(const DnsAnswer& ptr);

// The verdict once `forward[i]` answered the A/AAAA query of `candidates[i]` (fewer answers
// than candidates: the lookup stopped there). The first candidate, in order, whose records
// hold `address` is the name; else the reason.
ClientName decide_client_name(const IpAddress& address, const DnsAnswer& ptr, const std::vector<std::string>& candidates,
                              const std::vector<DnsAnswer>& forward);

// The whole lookup: the PTR, then each candidate's A or AAAA in turn, until one confirms.
// `done` is called once, on the thread of the last answer (or in this call, from a cache).
void look_up_client_name(DnsLookup& dns, const IpAddress& address, std::function<void(ClientName)> done);

}  // namespace ehlo::msgauth

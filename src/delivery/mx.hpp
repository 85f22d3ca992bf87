// Which hosts to try for a domain, in which order (RFC 5321 5.1), from the MX records the
// resolver found. The resolver is not called here: this is the part with the rules.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.hpp"

namespace ehlo::delivery {

struct MxRecord {
    std::uint16_t preference = 0;
    std::string host;  // as the DNS gave it; a trailing "." is allowed
};

struct MxCandidates {
    std::vector<MxRecord> records;     // lowest preference first; names lower-cased, no trailing "."
    std::optional<smtp::Reply> error;  // set: a permanent failure for every recipient at the domain
};

// The rules of RFC 5321 5.1 except the shuffle:
// - no MX records: the domain itself, preference 0 (the "implicit MX"; the caller checks that
//   the domain exists and has addresses);
// - a null MX (RFC 7505: the only record, host "."): 556 5.1.10, the domain accepts no mail;
//   a "." among other records is unusable and dropped;
// - a host named twice is kept once, at its lowest preference;
// - if one of `local_names` (this host's own names) is listed, it and every host of equal or
//   greater preference is dropped, so that mail is not sent to ourselves or away from the
//   destination; if nothing remains, 554 5.4.6 (routing loop, RFC 3463).
MxCandidates mx_candidates(std::string_view domain, std::vector<MxRecord> records,
                           const std::vector<std::string>& local_names);

struct MxRoute {
    std::vector<std::string> hosts;    // to be tried in this order
    std::optional<smtp::Reply> error;  // see MxCandidates
};

// The hosts to try: mx_candidates(), with hosts of equal preference in random order (RFC 5321
// 5.1: "the SMTP client SHOULD randomize them to spread the load"). The engine is a parameter
// so that tests are deterministic.
template <std::uniform_random_bit_generator Rng>
MxRoute order_mx(std::string_view domain, std::vector<MxRecord> records, const std::vector<std::string>& local_names,
                 Rng& rng) {
    MxCandidates c = mx_candidates(domain, std::move(records), local_names);
    auto first = c.records.begin();
    while (first != c.records.end()) {
        auto last = std::find_if(first, c.records.end(),
                                 [&](const MxRecord& r) { return r.preference != first->preference; });
        std::shuffle(first, last, rng);
        first = last;
    }
    MxRoute route;
    route.error = std::move(c.error);
    for (auto& r : c.records) route.hosts.push_back(std::move(r.host));
    return route;
}

}  // namespace ehlo::delivery

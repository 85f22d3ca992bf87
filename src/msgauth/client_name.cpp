#include "msgauth/client_name.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "smtp/received.hpp"

namespace ehlo::msgauth {

std::vector<std::string> client_name_candidates(const DnsAnswer& ptr) {
    std::vector<std::string> out;
    if (ptr.status != DnsStatus::Ok) return out;
    for (const std::string& record : ptr.records) {
        if (out.size() == kMaxClientNames) break;
        std::string name = normal_dns_name(record);
        if (!smtp::is_client_host_name(name) || std::find(out.begin(), out.end(), name) != out.end()) continue;
        out.push_back(std::move(name));
    }
    return out;
}

ClientName decide_client_name(const IpAddress& address, const DnsAnswer& ptr, const std::vector<std::string>& candidates,
                              const std::vector<DnsAnswer>& forward) {
    switch (ptr.status) {
        case DnsStatus::NxDomain:
        case DnsStatus::NoData: return {"", "no PTR"};
        case DnsStatus::TempError: return {"", "lookup failed: PTR: " + ptr.error};
        case DnsStatus::Ok: break;
    }
    // What the PTR said is shown only once it passed the check: it may hold anything.
    if (candidates.empty()) return {"", "PTR is no host name"};
    const std::string type = address.v6 ? "AAAA" : "A";
    std::string failure;
    for (std::size_t i = 0; i < candidates.size() && i < forward.size(); ++i) {
        const DnsAnswer& a = forward[i];
        if (a.status == DnsStatus::TempError && failure.empty()) failure = type + " " + candidates[i] + ": " + a.error;
        if (a.status != DnsStatus::Ok) continue;
        for (const std::string& r : a.records)
            if (auto ip = parse_ip(r); ip && *ip == address) return {candidates[i], ""};
    }
    // A name that could not be confirmed now may be confirmed later: not the same as a lie.
    if (!failure.empty()) return {"", "lookup failed: " + failure};
    std::string shown = "PTR " + candidates.front();
    if (candidates.size() > 1) shown += " and " + std::to_string(candidates.size() - 1) + " more";
    return {"", shown + " not confirmed"};
}

namespace {

struct ClientNameLookup : std::enable_shared_from_this<ClientNameLookup> {
    ClientNameLookup(DnsLookup& d, IpAddress a, std::function<void(ClientName)> f)
        : dns(d), address(a), done(std::move(f)) {}

    DnsLookup& dns;
    const IpAddress address;
    std::function<void(ClientName)> done;
    DnsAnswer ptr;
    std::vector<std::string> candidates;
    std::vector<DnsAnswer> forward;

    void start() {
        dns.ptr(address.reverse_name(), [self = shared_from_this()](DnsAnswer answer) {
            self->ptr = std::move(answer);
            self->candidates = client_name_candidates(self->ptr);
            self->next();
        });
    }

    // One forward query at a time: most addresses have one PTR, and the first confirmed wins.
    void next() {
        ClientName verdict = decide_client_name(address, ptr, candidates, forward);
        if (!verdict.name.empty() || forward.size() == candidates.size()) return done(std::move(verdict));
        dns.query(address.v6 ? DnsType::Aaaa : DnsType::A, candidates[forward.size()],
                  [self = shared_from_this()](DnsAnswer answer) {
                      self->forward.push_back(std::move(answer));
                      self->next();
                  });
    }
};

}  // namespace

void look_up_client_name(DnsLookup& dns, const IpAddress& address, std::function<void(ClientName)> done) {
    std::make_shared<ClientNameLookup>(dns, address, std::move(done))->start();
}

}  // namespace ehlo::msgauth

#include "msgauth/resolver_dns.hpp"

#include <span>

#include "delivery/dns_wire.hpp"

namespace ehlo::msgauth {

namespace {

std::span<const unsigned char> bytes(const std::string& s) {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

std::optional<std::string> decode(DnsType type, const std::string& rdata) {
    switch (type) {
        case DnsType::Txt: return delivery::dns::parse_txt(bytes(rdata));
        case DnsType::A: return delivery::dns::parse_a(bytes(rdata));
        case DnsType::Aaaa: return delivery::dns::parse_aaaa(bytes(rdata));
        case DnsType::Ptr: {
            auto name = delivery::dns::parse_name(bytes(rdata));
            if (name) *name = normal_dns_name(*name);
            return name;
        }
        case DnsType::Mx: {
            auto mx = delivery::dns::parse_mx(bytes(rdata));
            if (!mx) return std::nullopt;
            return normal_dns_name(mx->host);
        }
    }
    return std::nullopt;
}

}  // namespace

DnsAnswer to_dns_answer(DnsType type, const delivery::RawAnswer& raw) {
    using S = delivery::RawAnswer::Status;
    DnsAnswer a;
    a.ttl = raw.ttl;
    switch (raw.status) {
        case S::NxDomain: a.status = DnsStatus::NxDomain; return a;
        case S::NoData: a.status = DnsStatus::NoData; return a;
        case S::TempFail:
            a.status = DnsStatus::TempError;
            a.error = raw.error;
            return a;
        case S::Ok: break;
    }
    for (const std::string& r : raw.rdata)
        if (auto text = decode(type, r)) a.records.push_back(std::move(*text));
    if (a.records.empty()) {
        a.status = DnsStatus::TempError;
        a.error = std::string("no readable ") + dns_type_name(type) + " record";
        return a;
    }
    a.status = DnsStatus::Ok;
    return a;
}

ResolverDns::ResolverDns(delivery::Resolver& resolver, Post post) : resolver_(resolver), post_(std::move(post)) {}

void ResolverDns::query(DnsType type, const std::string& name, Done done) {
    resolver_.query(name, static_cast<std::uint16_t>(type), [this, type, done = std::move(done)](delivery::RawAnswer raw) {
        DnsAnswer answer = to_dns_answer(type, raw);
        if (!post_) return done(std::move(answer));
        post_([done, answer = std::move(answer)]() mutable { done(std::move(answer)); });
    });
}

}  // namespace ehlo::msgauth

// msgauth's DnsLookup answered by ehlo's libunbound resolver (delivery/resolver.hpp): each
// question one Resolver::query(), the rdata read by delivery's wire parsers. Answers arrive
// on the resolver's thread; `post`, if given, moves each callback elsewhere (an event loop,
// a worker pool for the public-key work) before it runs.
#pragma once

#include <functional>

#include "delivery/resolver.hpp"
#include "msgauth/dns.hpp"

namespace ehlo::msgauth {

class ResolverDns : public DnsLookup {
public:
    using Post = std::function<void(std::function<void()>)>;
    explicit ResolverDns(delivery::Resolver& resolver, Post post = nullptr);
    void query(DnsType type, const std::string& name, Done done) override;

private:
    delivery::Resolver& resolver_;
    Post post_;
};

// The RawAnswer of one question as a DnsAnswer: records of the type decoded to text; a record
// that does not parse is dropped, and if none parses the answer is a TempError (a broken zone
// may be fixed; a guess would be worse).
DnsAnswer to_dns_answer(DnsType type, const delivery::RawAnswer& raw);

}  // namespace ehlo::msgauth

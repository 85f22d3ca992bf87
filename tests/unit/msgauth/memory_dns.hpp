// An in-memory DnsLookup for the unit tests: records by (type, name), answered at once or,
// with `deferred`, only when the test calls run() (as a resolver thread would, later).
#pragma once

#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "msgauth/dns.hpp"

namespace ehlo::msgauth::testing {

class MemoryDns : public DnsLookup {
public:
    void add(DnsType type, const std::string& name, std::string record, std::uint32_t ttl = 300) {
        DnsAnswer& a = answers_[{type, normal_dns_name(name)}];
        a.status = DnsStatus::Ok;
        a.records.push_back(std::move(record));
        a.ttl = ttl;
        names_[normal_dns_name(name)] = true;
    }
    void txt(const std::string& name, std::string record) { add(DnsType::Txt, name, std::move(record)); }
    void fail(DnsType type, const std::string& name) {
        answers_[{type, normal_dns_name(name)}] = DnsAnswer{DnsStatus::TempError, {}, 0, "SERVFAIL (test)"};
        names_[normal_dns_name(name)] = true;
    }

    void query(DnsType type, const std::string& name, Done done) override {
        ++queries;
        asked.push_back(std::string(dns_type_name(type)) + " " + normal_dns_name(name));
        DnsAnswer answer;
        const auto it = answers_.find({type, normal_dns_name(name)});
        if (it != answers_.end())
            answer = it->second;
        else
            answer = DnsAnswer{names_.count(normal_dns_name(name)) ? DnsStatus::NoData : DnsStatus::NxDomain, {}, 60, {}};
        if (deferred)
            pending_.emplace_back(std::move(done), std::move(answer));
        else
            done(std::move(answer));
    }

    // Answers deferred queries, also those asked from inside the callbacks; how many.
    int run() {
        int n = 0;
        while (!pending_.empty()) {
            auto [done, answer] = std::move(pending_.front());
            pending_.pop_front();
            done(std::move(answer));
            ++n;
        }
        return n;
    }

    bool deferred = false;
    int queries = 0;
    std::vector<std::string> asked;

private:
    std::map<std::pair<DnsType, std::string>, DnsAnswer> answers_;
    std::map<std::string, bool> names_;
    std::deque<std::pair<Done, DnsAnswer>> pending_;
};

}  // namespace ehlo::msgauth::testing

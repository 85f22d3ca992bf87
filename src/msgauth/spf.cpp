// check_host() (RFC 7208 4 and 5) as a state machine over DNS answers: one query in flight at a
// time, each answer moving the evaluation on. Terms that need no DNS (ip4, ip6, all) are
// evaluated in a loop, so a record of many addresses does not deepen the stack.
#include "msgauth/spf.hpp"

#include <memory>

#include "msgauth/client_name.hpp"
#include "msgauth/ip.hpp"
#include "msgauth/message.hpp"
#include "msgauth/spf_record.hpp"

namespace ehlo::msgauth {

namespace {

struct Frame {
    std::string domain;
    SpfRecord record;
    std::size_t next = 0;   // the term to evaluate next
    bool included = false;  // its result goes back to an include: term of the frame below
    int depth = 0;
};

// RFC 7208 4.3: a domain check_host() can work with: valid, and more than one label.
bool usable_domain(const std::string& domain) {
    return is_query_name(domain) && domain.find('.') != std::string::npos && !parse_ip(domain);
}

bool is_subdomain_or_same(const std::string& name, const std::string& target) {
    return name == target ||
           (name.size() > target.size() && name.compare(name.size() - target.size(), target.size(), target) == 0 &&
            name[name.size() - target.size() - 1] == '.');
}

class Eval : public std::enable_shared_from_this<Eval> {
public:
    using Done = std::function<void(SpfVerdict)>;
    Eval(DnsLookup& dns, IpAddress ip, SpfMacroContext context, Done done)
        : dns_(dns), ip_(ip), context_(std::move(context)), done_(std::move(done)) {}

    SpfVerdict verdict;

    void start(const std::string& domain) {
        note(0, "check_host(" + ip_.str() + ", " + printable(domain) + ", " + printable(context_.sender) + ")");
        enter(domain, false, 0, false);
    }
    void finish(Result r, std::string problem = {}) {
        if (finished_) return;
        finished_ = true;
        verdict.result = r;
        if (!problem.empty()) {
            verdict.problem = problem;
            note(0, std::string("=> ") + result_name(r) + " (" + problem + ")");
        } else {
            note(0, std::string("=> ") + result_name(r) + (verdict.mechanism.empty() ? "" : " by " + verdict.mechanism));
        }
        Done d = std::move(done_);
        d(std::move(verdict));
    }

private:
    void note(int depth, std::string line) { verdict.path.push_back(std::string(static_cast<std::size_t>(depth) * 2, ' ') + line); }

    // RFC 7208 4.4 and 4.5: the domain's SPF record, then its terms.
    void enter(const std::string& domain_in, bool included, int depth, bool redirected) {
        const std::string domain = normal_dns_name(domain_in);
        if (!usable_domain(domain)) {
            if (depth == 0 && !redirected) return finish(Result::None, "not a usable domain: " + printable(domain));
            return finish(Result::PermError, "not a usable domain: " + printable(domain));
        }
        dns_.txt(domain, [self = shared_from_this(), domain, included, depth, redirected](DnsAnswer answer) {
            self->record_answered(domain, included, depth, redirected, answer);
        });
    }

    void record_answered(const std::string& domain, bool included, int depth, bool redirected, const DnsAnswer& answer) {
        if (answer.status == DnsStatus::TempError)
            return finish(Result::TempError, "DNS failure for the TXT record of " + domain + ": " + answer.error);
        std::vector<const std::string*> records;
        for (const std::string& txt : answer.records)
            if (is_spf_record(txt)) records.push_back(&txt);
        if (records.size() > 1) return finish(Result::PermError, domain + " has more than one SPF record (RFC 7208 4.5)");
        if (records.empty()) {
            note(depth, domain + ": no SPF record");
            // RFC 7208 5.2 and 6.1: an include: or redirect= target without a record is a permerror.
            if (depth == 0 && !redirected) return finish(Result::None);
            return finish(Result::PermError, domain + " has no SPF record (" + (included ? "include" : "redirect") + " target)");
        }
        note(depth, domain + ": \"" + printable(*records.front()) + "\"");
        SpfParse parsed = parse_spf_record(*records.front());
        if (!parsed.record) return finish(Result::PermError, domain + ": " + printable(parsed.error));
        stack_.push_back(Frame{domain, std::move(*parsed.record), 0, included, depth});
        step();
    }

    bool count_lookup(const SpfTerm& term, int depth) {
        if (++verdict.lookups <= kSpfMaxLookups) return true;
        note(depth + 1, term.text + ": over the limit");
        finish(Result::PermError, "more than " + std::to_string(kSpfMaxLookups) + " DNS lookups (RFC 7208 4.6.4)");
        return false;
    }

    // RFC 7208 4.6.4: answers with no records (NXDOMAIN or NODATA) count; over 2 is a permerror.
    bool void_ok(const DnsAnswer& answer) {
        if (answer.status != DnsStatus::NxDomain && answer.status != DnsStatus::NoData) return true;
        if (++verdict.void_lookups <= kSpfMaxVoidLookups) return true;
        finish(Result::PermError, "more than " + std::to_string(kSpfMaxVoidLookups) + " void DNS lookups (RFC 7208 4.6.4)");
        return false;
    }

    std::optional<std::string> expand(const std::string& spec, const std::string& domain) {
        if (spec.empty()) return domain;
        SpfMacroContext c = context_;
        c.domain = domain;
        c.validated = validated_;
        auto out = expand_spf_macros(spec, c);
        if (out && !out->empty() && out->back() == '.') out->pop_back();
        return out;
    }

    // %{p} needs the validated name first (RFC 7208 7.3): the client's name, confirmed as a
    // receiving MTA confirms it. These queries do not count toward the limits (they are not terms).
    template <typename Then>
    void with_validated_name(const std::string& spec, Then then) {
        if (!uses_validated_name(spec) || validated_known_) return then();
        look_up_client_name(dns_, ip_, [self = shared_from_this(), then](ClientName name) mutable {
            self->validated_known_ = true;
            self->validated_ = name.name.empty() ? "unknown" : std::move(name.name);
            then();
        });
    }

    void step() {
        while (!finished_) {
            Frame& f = stack_.back();
            if (f.next >= f.record.terms.size()) return no_match_left();
            const SpfTerm& term = f.record.terms[f.next++];
            switch (term.mechanism) {
                case SpfMechanism::All:
                    return matched(term);
                case SpfMechanism::Ip4:
                case SpfMechanism::Ip6:
                    if (in_network(ip_, term.network, term.network.v6 ? term.cidr6 : term.cidr4)) return matched(term);
                    note(f.depth + 1, term.text + ": no match");
                    continue;
                default:
                    return dns_term(term, f.domain, f.depth);
            }
        }
    }

    void dns_term(const SpfTerm& term, const std::string& domain, int depth) {
        if (!count_lookup(term, depth)) return;
        with_validated_name(term.domain_spec, [self = shared_from_this(), &term, domain, depth] {
            const auto target = self->expand(term.domain_spec, domain);
            if (!target) return self->finish(Result::PermError, "bad macro in " + term.text);
            self->evaluate(term, *target, depth);
        });
    }

    void evaluate(const SpfTerm& term, const std::string& target, int depth) {
        auto self = shared_from_this();
        const DnsType address_type = ip_.v6 ? DnsType::Aaaa : DnsType::A;
        switch (term.mechanism) {
            case SpfMechanism::Include:
                note(depth + 1, term.text + ": include " + printable(target));
                return enter(target, true, depth + 1, false);
            case SpfMechanism::A:
                return ask(address_type, target, [self, &term, depth](const DnsAnswer& a) {
                    self->addresses_answered(term, depth, a);
                });
            case SpfMechanism::Exists:
                // RFC 7208 5.7: always an A query, whatever the client's address family
                return ask(DnsType::A, target, [self, &term, depth](const DnsAnswer& a) {
                    if (a.status == DnsStatus::Ok) return self->matched(term);
                    self->note(depth + 1, term.text + ": no match");
                    self->step();
                });
            case SpfMechanism::Mx:
                return ask(DnsType::Mx, target, [self, &term, depth](const DnsAnswer& a) {
                    // RFC 7208 4.6.4: more than 10 MX names is a permerror
                    if (a.records.size() > kSpfMaxMxNames)
                        return self->finish(Result::PermError, "more than 10 MX names for " + term.text + " (RFC 7208 4.6.4)");
                    self->mx_next(term, depth, std::make_shared<std::vector<std::string>>(a.records), 0);
                });
            case SpfMechanism::Ptr:
                return ptr(term, target, depth);
            default:
                return step();
        }
    }

    // A query whose TempError ends the evaluation (RFC 7208 5: "temperror") and whose void
    // answers count; `then` only sees answers that let the evaluation go on.
    template <typename Then>
    void ask(DnsType type, const std::string& name, Then then) {
        if (!is_query_name(name)) {  // an expansion that is no domain: nothing there
            DnsAnswer none{DnsStatus::NxDomain, {}, 0, {}};
            if (!void_ok(none)) return;
            return then(none);
        }
        dns_.query(type, name, [self = shared_from_this(), type, name, then](DnsAnswer answer) {
            if (answer.status == DnsStatus::TempError)
                return self->finish(Result::TempError, std::string("DNS failure for ") + dns_type_name(type) + " " + name + ": " + answer.error);
            if (!self->void_ok(answer)) return;
            then(answer);
        });
    }

    bool any_in(const SpfTerm& term, const DnsAnswer& a) const {
        for (const std::string& r : a.records) {
            const auto x = parse_ip(r);
            if (x && in_network(ip_, *x, ip_.v6 ? term.cidr6 : term.cidr4)) return true;
        }
        return false;
    }

    void addresses_answered(const SpfTerm& term, int depth, const DnsAnswer& a) {
        if (any_in(term, a)) return matched(term);
        note(depth + 1, term.text + ": no match");
        step();
    }

    void mx_next(const SpfTerm& term, int depth, std::shared_ptr<std::vector<std::string>> hosts, std::size_t i) {
        if (i >= hosts->size()) {
            note(depth + 1, term.text + ": no match");
            return step();
        }
        ask(ip_.v6 ? DnsType::Aaaa : DnsType::A, (*hosts)[i], [self = shared_from_this(), &term, depth, hosts, i](const DnsAnswer& a) {
            if (self->any_in(term, a)) return self->matched(term);
            self->mx_next(term, depth, hosts, i + 1);
        });
    }

    // RFC 7208 5.5: the validated names of the client; any equal to or under the target matches.
    void ptr(const SpfTerm& term, const std::string& target, int depth) {
        dns_.ptr(ip_.reverse_name(), [self = shared_from_this(), &term, target, depth](DnsAnswer answer) {
            // "If a DNS error occurs while doing the PTR RR lookup, then this mechanism fails to match."
            if (answer.status == DnsStatus::TempError) {
                self->note(depth + 1, term.text + ": no match (PTR lookup failed)");
                return self->step();
            }
            if (!self->void_ok(answer)) return;
            auto names = std::make_shared<std::vector<std::string>>();
            for (const std::string& n : answer.records)
                if (names->size() < kSpfMaxPtrNames) names->push_back(normal_dns_name(n));
            self->ptr_next(term, target, depth, names, 0);
        });
    }

    void ptr_next(const SpfTerm& term, const std::string& target, int depth, std::shared_ptr<std::vector<std::string>> names,
                  std::size_t i) {
        while (i < names->size() && (!is_subdomain_or_same((*names)[i], target) || !is_query_name((*names)[i]))) ++i;
        if (i >= names->size()) {
            note(depth + 1, term.text + ": no match");
            return step();
        }
        const std::string name = (*names)[i];
        // "If a DNS error occurs while doing an A RR lookup, then that domain name is skipped."
        dns_.query(ip_.v6 ? DnsType::Aaaa : DnsType::A, name,
                   [self = shared_from_this(), &term, target, depth, names, i](DnsAnswer a) {
                       if (a.status != DnsStatus::TempError && !self->void_ok(a)) return;
                       if (a.status == DnsStatus::Ok && self->any_in_exact(a)) return self->matched(term);
                       self->ptr_next(term, target, depth, names, i + 1);
                   });
    }

    bool any_in_exact(const DnsAnswer& a) const {
        for (const std::string& r : a.records)
            if (auto x = parse_ip(r); x && *x == ip_) return true;
        return false;
    }

    void matched(const SpfTerm& term) {
        const int depth = stack_.back().depth;
        note(depth + 1, term.text + ": match => " + result_name(term.qualifier));
        frame_result(term.qualifier, term.text);
    }

    // RFC 7208 4.7 and 6.1: no term matched: redirect= if there is one, else neutral.
    void no_match_left() {
        Frame& f = stack_.back();
        if (f.record.redirect) {
            SpfTerm redirect;
            redirect.text = "redirect=" + *f.record.redirect;
            if (!count_lookup(redirect, f.depth)) return;
            const std::string spec = *f.record.redirect;
            with_validated_name(spec, [self = shared_from_this(), spec] {
                Frame from = std::move(self->stack_.back());
                self->stack_.pop_back();
                const auto target = self->expand(spec, from.domain);
                if (!target) return self->finish(Result::PermError, "bad macro in redirect=" + spec);
                self->note(from.depth + 1, "redirect=" + printable(*target));
                self->enter(*target, from.included, from.depth, true);
            });
            return;
        }
        note(f.depth + 1, "no term matched => neutral");
        frame_result(Result::Neutral, {});
    }

    void frame_result(Result r, const std::string& mechanism) {
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        if (stack_.empty()) {
            verdict.mechanism = mechanism;
            if (r == Result::Fail && f.record.exp && !mechanism.empty()) return explain(*f.record.exp, f.domain);
            return finish(r);
        }
        // RFC 7208 5.2: an include matches on pass only; fail, softfail and neutral go on.
        const SpfTerm& include = stack_.back().record.terms[stack_.back().next - 1];
        if (r == Result::Pass) return matched(include);
        note(stack_.back().depth + 1, include.text + ": no match (" + result_name(r) + ")");
        step();
    }

    // RFC 7208 6.2: the explanation; any failure to get one just leaves it out.
    void explain(const std::string& spec, const std::string& domain) {
        with_validated_name(spec, [self = shared_from_this(), spec, domain] {
            const auto target = self->expand(spec, domain);
            if (!target || !is_query_name(*target)) return self->finish(Result::Fail);
            self->dns_.txt(*target, [self, domain](DnsAnswer a) {
                if (a.status == DnsStatus::Ok && a.records.size() == 1) {
                    SpfMacroContext c = self->context_;
                    c.domain = domain;
                    c.validated = self->validated_;
                    if (auto text = expand_spf_macros(a.records.front(), c, true)) self->verdict.explanation = printable(*text);
                }
                self->finish(Result::Fail);
            });
        });
    }

    DnsLookup& dns_;
    IpAddress ip_;
    SpfMacroContext context_;
    Done done_;
    std::vector<Frame> stack_;
    std::string validated_;
    bool validated_known_ = false;
    bool finished_ = false;
};

}  // namespace

void check_host(DnsLookup& dns, const std::string& ip_text, const std::string& domain, const std::string& sender,
                const std::string& helo, std::int64_t now, std::function<void(SpfVerdict)> done, const std::string& receiver) {
    SpfMacroContext c;
    const auto ip = parse_ip(ip_text);
    const std::size_t at = sender.rfind('@');
    c.sender = sender;
    c.local_part = at == std::string::npos ? std::string() : sender.substr(0, at);
    c.sender_domain = at == std::string::npos ? sender : sender.substr(at + 1);
    if (c.local_part.empty()) {  // RFC 7208 4.3
        c.local_part = "postmaster";
        c.sender = "postmaster@" + c.sender_domain;
    }
    c.helo = helo;
    c.receiver = receiver;
    c.now = now;
    if (ip) c.ip = *ip;
    auto eval = std::make_shared<Eval>(dns, c.ip, c, std::move(done));
    eval->verdict.sender = c.sender;
    eval->verdict.domain = normal_dns_name(domain);
    if (!ip) return eval->finish(Result::PermError, "not an IP address: " + printable(ip_text));
    eval->start(domain);
}

void check_spf(DnsLookup& dns, const SpfRequest& request, std::function<void(SpfVerdict)> done) {
    const bool helo = request.mail_from.empty();
    const std::string sender = helo ? "postmaster@" + request.helo : request.mail_from;
    const std::size_t at = sender.rfind('@');
    const std::string domain = at == std::string::npos ? sender : sender.substr(at + 1);
    check_host(dns, request.ip, domain, sender, request.helo, request.now,
               [done = std::move(done), helo](SpfVerdict v) {
                   v.identity = helo ? "helo" : "mailfrom";
                   done(std::move(v));
               },
               request.receiver);
}

}  // namespace ehlo::msgauth

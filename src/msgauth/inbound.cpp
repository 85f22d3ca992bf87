#include "msgauth/inbound.hpp"

#include <mutex>

#include "msgauth/auth_results.hpp"
#include "smtp/header_addresses.hpp"

namespace ehlo::msgauth {

bool InboundVerdicts::temporary() const {
    if (spf && spf->result == Result::TempError) return true;
    for (const DkimVerdict& d : dkim)
        if (d.result == Result::TempError) return true;
    return dmarc && dmarc->result == Result::TempError;
}

std::string InboundVerdicts::summary() const {
    std::string out = std::string("spf=") + (spf ? result_name(spf->result) : "none");
    if (dkim_checked) {
        if (dkim.empty()) out += " dkim=none";
        for (const DkimVerdict& d : dkim) out += std::string(" dkim=") + result_name(d.result) + " (" + printable(d.domain, 64) + ")";
    }
    out += std::string(" dmarc=") + (dmarc ? result_name(dmarc->result) : "none");
    if (!from_problem.empty()) out += " (" + from_problem + ")";
    if (dmarc && dmarc->record) out += std::string(" (p=") + dmarc_policy_name(dmarc->requested) + ")";
    if (arc) out += std::string(" arc=") + result_name(arc->result);
    return out;
}

AuthorDomain header_from_domain(const std::vector<HeaderField>& fields) {
    const HeaderField* from = nullptr;
    for (const HeaderField& f : fields) {
        if (!f.is("From")) continue;
        if (from) return {{}, "more than one From field"};
        from = &f;
    }
    if (!from) return {{}, "no From field"};
    const auto addresses = smtp::header_addresses(from->value());
    if (!addresses || addresses->empty()) return {{}, "no address in the From field can be read"};
    std::string domain;
    for (const std::string& a : *addresses) {
        const std::size_t at = a.rfind('@');
        const std::string d = normal_dns_name(std::string_view(a).substr(at + 1));
        if (d.empty() || !is_query_name(d)) return {{}, "the From address has no domain that can be checked"};
        if (!domain.empty() && d != domain) return {{}, "the From field names more than one author domain"};
        domain = d;
    }
    return {domain, {}};
}

std::string authentication_results(const std::string& authserv_id, const InboundVerdicts& v,
                                   const std::optional<std::string>& auth_user) {
    AuthResultsInput in;
    in.authserv_id = authserv_id;
    in.spf = v.spf;
    in.dkim = v.dkim;
    in.dkim_checked = v.dkim_checked;
    in.dmarc = v.dmarc;
    if (v.arc) in.arc = v.arc->result;
    in.auth_user = auth_user;
    return authentication_results_field(in);
}

struct InboundCheck::State : std::enable_shared_from_this<State> {
    State(DnsLookup& d, const PublicSuffixList& p, Post po, DkimVerifyOptions o)
        : dns(d), psl(p), post(std::move(po)), options(o) {}

    DnsLookup& dns;
    const PublicSuffixList& psl;
    Post post;
    DkimVerifyOptions options;

    mutable std::mutex mutex;
    bool spf_pending = false;
    std::function<void()> after_spf;  // the end of the data came first: what it waits to do
    InboundVerdicts verdicts;          // filled in step by step; guarded by `mutex`
    std::optional<DkimVerifier> dkim;  // event loop only until finish()
    std::optional<ArcVerifier> arc;

    void run(std::function<void()> step) {
        if (post)
            post(std::move(step));
        else
            step();
    }

    void spf_came(SpfVerdict v) {
        std::function<void()> next;
        {
            std::lock_guard lock(mutex);
            verdicts.spf = std::move(v);
            spf_pending = false;
            next = std::move(after_spf);
        }
        if (next) next();
    }

    void check_dkim(std::int64_t now, unsigned draw, Done done) {
        if (!dkim) return check_arc(now, draw, std::move(done));
        auto self = shared_from_this();
        dkim->finish(dns, now, [self, now, draw, done = std::move(done)](std::vector<DkimVerdict> v) mutable {
            {
                std::lock_guard lock(self->mutex);
                self->verdicts.dkim = std::move(v);
            }
            self->check_arc(now, draw, std::move(done));
        });
    }

    void check_arc(std::int64_t now, unsigned draw, Done done) {
        if (!arc) return check_dmarc_policy(draw, std::move(done));
        auto self = shared_from_this();
        arc->finish(dns, now, [self, draw, done = std::move(done)](ArcVerdict v) mutable {
            {
                std::lock_guard lock(self->mutex);
                self->verdicts.arc = std::move(v);
            }
            self->check_dmarc_policy(draw, std::move(done));
        });
    }

    void check_dmarc_policy(unsigned draw, Done done) {
        DmarcInput input;
        {
            std::lock_guard lock(mutex);
            input.from_domain = verdicts.from_domain;
            if (verdicts.spf) {
                input.spf = verdicts.spf->result;
                input.spf_domain = verdicts.spf->domain;
            }
            input.dkim = verdicts.dkim;
        }
        // RFC 7489 6.6.1: no one From domain, no DMARC to apply (the decision refuses it).
        if (input.from_domain.empty()) return finished(std::move(done));
        auto self = shared_from_this();
        msgauth::check_dmarc(dns, psl, std::move(input), draw, [self, done = std::move(done)](DmarcVerdict v) mutable {
            {
                std::lock_guard lock(self->mutex);
                self->verdicts.dmarc = std::move(v);
            }
            self->finished(std::move(done));
        });
    }

    void finished(Done done) {
        InboundVerdicts out;
        {
            std::lock_guard lock(mutex);
            out = verdicts;
        }
        done(std::move(out));
    }
};

InboundCheck::InboundCheck(DnsLookup& dns, const PublicSuffixList& psl, Post post, DkimVerifyOptions options)
    : state_(std::make_shared<State>(dns, psl, std::move(post), options)) {}

InboundCheck::~InboundCheck() = default;

void InboundCheck::spf(SpfRequest request) {
    {
        std::lock_guard lock(state_->mutex);
        state_->spf_pending = true;
    }
    auto s = state_;
    s->run([s, request = std::move(request)] {
        check_spf(s->dns, request, [s](SpfVerdict v) { s->spf_came(std::move(v)); });
    });
}

std::optional<SpfVerdict> InboundCheck::spf_verdict() const {
    std::lock_guard lock(state_->mutex);
    if (state_->spf_pending) return std::nullopt;
    return state_->verdicts.spf;
}

void InboundCheck::header(std::vector<HeaderField> fields) {
    {
        std::lock_guard lock(state_->mutex);
        AuthorDomain author = header_from_domain(fields);
        state_->verdicts.from_domain = std::move(author.domain);
        state_->verdicts.from_problem = std::move(author.problem);
        state_->verdicts.dkim_checked = true;
    }
    state_->arc.emplace(fields, state_->options);
    state_->dkim.emplace(std::move(fields), state_->options);
}

void InboundCheck::body(std::string_view piece) {
    if (state_->dkim) state_->dkim->body(piece);
    if (state_->arc) state_->arc->body(piece);
}

void InboundCheck::finish(std::int64_t now, unsigned percent_draw, Done done) {
    auto s = state_;
    s->run([s, now, percent_draw, done = std::move(done)]() mutable {
        auto step = [s, now, percent_draw, done = std::move(done)]() mutable { s->check_dkim(now, percent_draw, std::move(done)); };
        {
            std::lock_guard lock(s->mutex);
            if (s->spf_pending) {
                s->after_spf = std::move(step);
                return;
            }
        }
        step();
    });
}

}  // namespace ehlo::msgauth

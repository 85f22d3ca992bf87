#include "policy/msgauth_decision.hpp"

namespace ehlo::policy {

MsgauthDecision msgauth_decision(const config::Config::Msgauth& settings, const msgauth::InboundVerdicts& v) {
    using msgauth::Result;
    MsgauthDecision d;
    // A DNS failure says nothing of the message: accepted and marked, or put off so that the
    // client tries again: RFC 7372 X.7.24 for SPF's temperror, RFC 3463 X.7.5 (the key or the
    // record needed was not available) for DKIM's and DMARC's.
    if (settings.dns_defer && v.temporary()) {
        const bool spf = v.spf && v.spf->result == Result::TempError;
        d.refusal = smtp::Reply{451, spf ? "4.7.24" : "4.7.5",
                                std::string(spf ? "SPF" : "DKIM or DMARC") + " could not be checked (DNS), try again later"};
        d.why = "a DNS failure";
        return d;
    }
    // RFC 7208 8.4, RFC 7372 X.7.23.
    if (settings.spf_reject && v.spf && v.spf->result == Result::Fail) {
        std::string text = "SPF validation failed for " + msgauth::printable(v.spf->domain, 255);
        if (!v.spf->explanation.empty()) text += ": " + msgauth::printable(v.spf->explanation, 200);
        d.refusal = smtp::Reply{550, "5.7.23", text};
        d.why = "SPF fail";
        return d;
    }
    // RFC 7489 6.6.1: a message whose author domain cannot be told is not one to pass unchecked
    // (the domain a reader sees could be another than the one checked).
    if (!v.from_problem.empty() && v.dkim_checked) {
        d.refusal = smtp::Reply{550, "5.7.1", "The From header must name one author domain: " + v.from_problem};
        d.why = v.from_problem;
        return d;
    }
    if (!v.dmarc || v.dmarc->result != Result::Fail) return d;
    const msgauth::DmarcVerdict& dmarc = *v.dmarc;
    config::DmarcAction action = config::DmarcAction::None;
    if (dmarc.policy == msgauth::DmarcPolicy::Reject) action = settings.dmarc_reject;
    if (dmarc.policy == msgauth::DmarcPolicy::Quarantine) action = settings.dmarc_quarantine;
    d.why = "DMARC policy of " + msgauth::printable(dmarc.record_domain.empty() ? dmarc.from_domain : dmarc.record_domain, 255) +
            " (p=" + msgauth::dmarc_policy_name(dmarc.requested) + ")";
    switch (action) {
        case config::DmarcAction::Reject:
            // RFC 7489 6.7 / 10.3: a rejection says why, so that the sender can learn of it.
            d.refusal = smtp::Reply{550, "5.7.1", "Unauthenticated mail from " + msgauth::printable(dmarc.from_domain, 255) +
                                                      " is refused by its DMARC policy"};
            break;
        case config::DmarcAction::Quarantine: d.quarantine = true; break;
        case config::DmarcAction::None: break;
    }
    return d;
}

std::string quarantine_field(const MsgauthDecision& decision) {
    return "X-Ehlo-Quarantine: " + decision.why + "\r\n";
}

}  // namespace ehlo::policy

// What the verdicts of message authentication do to a message at the end of DATA: the
// configuration ([msgauth]) against the verdicts (msgauth/inbound.hpp). A sender's own
// policy (DMARC p=) is asked for; what we do with it is ours to choose (RFC 7489 6.7).
#pragma once

#include <optional>
#include <string>

#include "config/config.hpp"
#include "msgauth/inbound.hpp"
#include "smtp/reply.hpp"

namespace ehlo::policy {

struct MsgauthDecision {
    std::optional<smtp::Reply> refusal;  // 550 or 451 at the end of DATA
    bool quarantine = false;             // deliver, marked as junk
    std::string why;                     // what decided, for the log and the marking header
};

MsgauthDecision msgauth_decision(const config::Config::Msgauth& settings, const msgauth::InboundVerdicts& verdicts);

// RFC 8601 does not mark junk; this field does, for filters and mail clients:
// "X-Ehlo-Quarantine: DMARC policy of example.com (p=quarantine)", CRLF-ended.
std::string quarantine_field(const MsgauthDecision& decision);

}  // namespace ehlo::policy

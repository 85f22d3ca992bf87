// ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2 Mail-parameters / Rcpt-parameters): each
// keyword is known only when its extension was offered.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "smtp/envelope.hpp"
#include "smtp/reply.hpp"

namespace ehlo::smtp {

// RFC 3461 4.4 and 4.2: ENVID is at most 100 characters, ORCPT at most 500.
inline constexpr std::size_t kMaxEnvid = 100;
inline constexpr std::size_t kMaxOrcpt = 500;

// What the session offered: parameters exist only after EHLO (RFC 5321 4.1.1.11), the DSN
// ones only when DSN was advertised.
struct ParamRules {
    bool esmtp = false;
    bool dsn = false;
    bool auth = false;  // AUTH= on MAIL (RFC 4954 5)
};

// Applies "SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x" to `envelope`. A refusal is
// returned as the reply to send: 555 5.5.4 for a keyword not offered (RFC 5321 4.1.1.11),
// 501 5.5.4 for bad syntax, a bad value or a repeated keyword. SIZE is stored, not judged.
std::optional<Reply> apply_mail_params(std::string_view params, const ParamRules& rules, Envelope& envelope);

// Applies "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+40b" to `recipient`, with the same replies.
std::optional<Reply> apply_rcpt_params(std::string_view params, const ParamRules& rules, Recipient& recipient);

// xtext of RFC 3461 4: "+" and two upper-case hex digits stand for one octet. Empty when
// malformed or when it decodes to anything but printable ASCII (what we store must be safe
// to write into a DSN later).
std::optional<std::string> xtext_decode(std::string_view xtext);

}  // namespace ehlo::smtp

// Authentication-Results (RFC 8601): the one header field ehlo adds with its verdicts, and the
// fields from outside that claim ehlo's authserv-id, to be removed on reception (RFC 8601 5).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/dkim_verify.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/message.hpp"
#include "msgauth/spf.hpp"

namespace ehlo::msgauth {

struct AuthResultsInput {
    std::string authserv_id;              // our host name (RFC 8601 2.5)
    std::optional<SpfVerdict> spf;
    std::vector<DkimVerdict> dkim;        // none: dkim=none
    bool dkim_checked = false;            // false: no dkim entry at all
    std::optional<DmarcVerdict> dmarc;
    std::optional<Result> arc;            // RFC 8617 4.4: arc=pass/fail/none
    std::optional<std::string> auth_user; // authenticated submission: auth=pass smtp.auth=USER (RFC 8601 2.7.4)
};

// The whole field, folded, without the final CRLF: "Authentication-Results: mx.example.net;
// spf=pass smtp.mailfrom=...". Values outside the token grammar are quoted (RFC 2045 5.1),
// comments escaped, control characters dropped: nothing from a peer can break the field.
std::string authentication_results_field(const AuthResultsInput& input);

// RFC 8601 2.2: the authserv-id of a field's value ("mx.example.net; spf=pass" ->
// "mx.example.net"), CFWS and comments skipped, quotes removed.
std::string authserv_id_of(std::string_view value);

// Indexes of Authentication-Results fields whose authserv-id is ours (case-insensitive):
// forgeries, or our own from an earlier pass; RFC 8601 5 says to delete them.
std::vector<std::size_t> forged_authentication_results(const std::vector<HeaderField>& fields, std::string_view authserv_id);

// A property value as RFC 8601 2.2 pvalue: a token as is, anything else a quoted-string.
std::string pvalue(std::string_view text);

}  // namespace ehlo::msgauth

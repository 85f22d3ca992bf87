// What reception checks on mail from outside, in the order the session gives it: SPF of the
// MAIL FROM identity (RFC 7208) as soon as MAIL is accepted, DKIM (RFC 6376) and ARC
// (RFC 8617) over the header section and the body while the content streams to the spool,
// and DMARC (RFC 7489) at the end of the data, from those verdicts and the From domain. The
// result is one set of verdicts and the Authentication-Results field (RFC 8601) that says so.
//
// Every step that asks the DNS, or does public-key work, runs where the caller's `Post` puts
// it (the daemon: a worker pool, never an event loop); answers may come on any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "msgauth/arc.hpp"
#include "msgauth/dkim_verify.hpp"
#include "msgauth/dmarc.hpp"
#include "msgauth/dns.hpp"
#include "msgauth/message.hpp"
#include "msgauth/public_suffix.hpp"
#include "msgauth/spf.hpp"

namespace ehlo::msgauth {

struct InboundVerdicts {
    std::optional<SpfVerdict> spf;
    bool dkim_checked = false;     // the header section was read (else no dkim entry at all)
    std::vector<DkimVerdict> dkim;
    std::optional<ArcVerdict> arc;
    std::optional<DmarcVerdict> dmarc;
    std::string from_domain;       // RFC5322.From
    std::string from_problem;      // why there is no one From domain to check (then no DMARC)

    // A verdict the DNS left open (temperror): the same message may pass later.
    bool temporary() const;
    // "spf=pass dkim=pass dmarc=pass arc=none": for logs and the message's history.
    std::string summary() const;
};

// RFC 5322 3.6.2, RFC 7489 6.6.1: the author domain DMARC checks and signing goes by: one From
// field whose addresses (display names, comments, quoting understood) share one domain.
// Otherwise `problem` says why not: the domain a reader sees could be another than the one
// checked, so such a message is not one DMARC can pass.
struct AuthorDomain {
    std::string domain;   // lower case
    std::string problem;  // "" when `domain` is the one
};
AuthorDomain header_from_domain(const std::vector<HeaderField>& fields);

// The Authentication-Results field for these verdicts (raw, folded, without the final CRLF).
std::string authentication_results(const std::string& authserv_id, const InboundVerdicts& verdicts,
                                   const std::optional<std::string>& auth_user = std::nullopt);

class InboundCheck {
public:
    using Post = std::function<void(std::function<void()>)>;
    using Done = std::function<void(InboundVerdicts)>;

    // `dns` and `psl` must outlive every answer; `post` runs a step elsewhere (null: here).
    InboundCheck(DnsLookup& dns, const PublicSuffixList& psl, Post post, DkimVerifyOptions options = {});
    ~InboundCheck();
    InboundCheck(const InboundCheck&) = delete;
    InboundCheck& operator=(const InboundCheck&) = delete;

    // At MAIL: starts check_host() for the sender (or HELO for the null sender).
    void spf(SpfRequest request);
    // SPF's verdict, if it has come already (any thread).
    std::optional<SpfVerdict> spf_verdict() const;

    // The client's header section, once whole; then the body in pieces.
    void header(std::vector<HeaderField> fields);
    void body(std::string_view piece);

    // The end of the data: waits for SPF, then DKIM, ARC and DMARC; `done` is called once, on
    // whatever thread the last answer came. `percent_draw` (0..99) decides DMARC's pct.
    // The check may be destroyed before `done` is called.
    void finish(std::int64_t now, unsigned percent_draw, Done done);

private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace ehlo::msgauth

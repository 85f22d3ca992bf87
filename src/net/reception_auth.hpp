// Message authentication of one session's messages, between the session and the queue: SPF
// starts at MAIL, the client's header section is held back until it is whole (so that the
// Authentication-Results fields claiming our authserv-id are removed, RFC 8601 5, and DKIM
// and ARC know what they verify), the body goes on to the spool as it comes while its hashes
// are taken, and at the end the verdicts decide (policy::msgauth_decision) and give the
// Authentication-Results field that goes on top of the message.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "msgauth/dkim_canon.hpp"
#include "msgauth/dkim_sign.hpp"
#include "msgauth/dns.hpp"
#include "msgauth/inbound.hpp"
#include "msgauth/public_suffix.hpp"
#include "smtp/reply.hpp"

namespace ehlo::net {

// What every session's checks share; made once by the daemon, outliving the sessions.
struct MsgauthService {
    msgauth::DnsLookup& dns;
    const msgauth::PublicSuffixList& psl;
    msgauth::InboundCheck::Post post;  // where the DNS answers and public-key work run
    config::Config::Msgauth settings;
    std::string authserv_id;
    // [[msgauth.sign]] keys by domain, read at start.
    std::map<std::string, std::vector<msgauth::DkimSigningKey>> signing_keys{};
    // [msgauth] arc_domain's key: seals (RFC 8617) the checked mail that an alias forwards.
    std::optional<msgauth::DkimSigningKey> arc_key{};
    // How long the end of DATA waits for a verdict at most: each DNS question is bounded by
    // [dns] timeout, but a check asks several in turn (SPF's terms, the DKIM keys, DMARC).
    std::chrono::seconds verdict_wait{30};
};

// The client's header section may be this long; a longer one is refused (552 5.3.4) when it
// is to be checked, rather than passed on with forged verdicts in it.
inline constexpr std::size_t kMaxCheckedHeader = 256 * 1024;

class ReceptionAuth {
public:
    struct Outcome {
        std::optional<smtp::Reply> refusal;  // refuse the message with this
        std::string top;                     // header fields to put above the message (CRLF-ended)
        std::string verdicts;                // for the log and the history: "spf=pass dkim=..."
        std::string dmarc_row;               // for the day's DMARC report (msgauth/dmarc_report.hpp)
    };
    using Done = std::function<void(Outcome)>;

    // A client from outside (`from_outside`) is checked. An authenticated client's
    // submission (`auth_user`) is marked "auth=pass" (RFC 8601 2.7.4); it and our own networks'
    // mail is signed when its From domain has [[msgauth.sign]] keys.
    ReceptionAuth(const MsgauthService& service, std::optional<std::string> auth_user, bool from_outside);

    // MAIL accepted: SPF of `sender` ("" for <>) from `ip`, or of HELO for the null sender
    // (from outside); the sender's domain is what an authenticated user may sign for.
    void mail(const std::string& ip, const std::string& sender, const std::string& helo, std::int64_t now);
    // An SPF fail known by RCPT time, when spf_fail = "reject" (RFC 7372 X.7.23).
    std::optional<smtp::Reply> check_rcpt() const;

    // A new message's content begins.
    void begin_content();
    // A piece of the client's content; what may go to the spool now is appended to `out`.
    void content(std::string_view piece, std::string& out);
    // The end of the content: whatever was still held back goes to `out`.
    void end_content(std::string& out);
    // The verdicts; `done` is called once, on any thread. `forwarded`: a recipient is an
    // alias's remote target, so a checked message is ARC-sealed when arc_domain is set.
    void finish(std::int64_t now, unsigned percent_draw, bool forwarded, Done done);

private:
    void release(std::string& out);

    const MsgauthService& service_;
    std::optional<std::string> auth_user_;
    bool from_outside_;
    std::string sender_domain_;  // of MAIL FROM, lower case
    std::string client_ip_;
    std::unique_ptr<msgauth::InboundCheck> check_;
    // Signing: the fields as they go on (what DKIM-Signature covers) and the body hash so far.
    std::shared_ptr<msgauth::DkimSigner> signer_;
    std::vector<msgauth::HeaderField> signed_fields_;
    std::string signing_;  // "signed: d=example.org s=s1 (rsa)", for the log
    // Sealing: the fields as they go on and ARC's body hash (relaxed, SHA-256).
    std::shared_ptr<msgauth::BodyHasher> arc_hasher_;
    std::vector<msgauth::HeaderField> arc_fields_;
    std::string held_;
    bool holding_ = true;
    bool header_too_large_ = false;
    bool malformed_header_ = false;
};

}  // namespace ehlo::net

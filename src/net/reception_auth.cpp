#include "net/reception_auth.hpp"

#include "msgauth/auth_results.hpp"
#include "msgauth/message.hpp"
#include "policy/msgauth_decision.hpp"

namespace ehlo::net {

namespace {

// Where the header section ends in `text`: past its empty line (CRLF CRLF, or a content that
// starts with its empty line); npos while it may go on.
std::size_t header_end(std::string_view text) {
    if (text.starts_with("\r\n")) return 2;
    const std::size_t at = text.find("\r\n\r\n");
    return at == std::string_view::npos ? at : at + 4;
}

// `header` without the fields at `drop` (indexes into `fields`, which parse_message found in
// it, in order and back to back). False when the fields are not where they should be (a line
// end other than CRLF): then nothing is removed.
bool without_fields(std::string_view header, const std::vector<msgauth::HeaderField>& fields,
                    const std::vector<std::size_t>& drop, std::string& out) {
    std::string kept;
    std::size_t at = 0;
    std::size_t next_drop = 0;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const std::string& raw = fields[i].raw;
        if (header.compare(at, raw.size(), raw) != 0 || header.compare(at + raw.size(), 2, "\r\n") != 0) return false;
        const bool dropped = next_drop < drop.size() && drop[next_drop] == i;
        if (dropped)
            ++next_drop;
        else
            kept.append(header.substr(at, raw.size() + 2));
        at += raw.size() + 2;
    }
    kept.append(header.substr(at));
    out += kept;
    return true;
}

}  // namespace

ReceptionAuth::ReceptionAuth(const MsgauthService& service, std::optional<std::string> auth_user, bool from_outside)
    : service_(service), auth_user_(std::move(auth_user)), from_outside_(from_outside) {}

void ReceptionAuth::mail(const std::string& ip, const std::string& sender, const std::string& helo, std::int64_t now) {
    if (!from_outside_) return;
    msgauth::DkimVerifyOptions options;
    options.max_signatures = service_.settings.max_signatures;
    check_ = std::make_unique<msgauth::InboundCheck>(service_.dns, service_.psl, service_.post, options);
    msgauth::SpfRequest request;
    request.ip = ip;
    request.mail_from = sender;
    request.helo = helo;
    request.receiver = service_.authserv_id;
    request.now = now;
    check_->spf(std::move(request));
}

std::optional<smtp::Reply> ReceptionAuth::check_rcpt() const {
    if (!check_ || !service_.settings.spf_reject) return std::nullopt;
    const auto spf = check_->spf_verdict();
    if (!spf || spf->result != msgauth::Result::Fail) return std::nullopt;
    msgauth::InboundVerdicts v;
    v.spf = spf;
    return policy::msgauth_decision(service_.settings, v).refusal;
}

void ReceptionAuth::begin_content() {
    held_.clear();
    holding_ = true;
    header_too_large_ = false;
    signer_.reset();
    signed_fields_.clear();
    signing_.clear();
}

void ReceptionAuth::content(std::string_view piece, std::string& out) {
    if (!holding_) {
        if (check_) check_->body(piece);
        if (signer_) signer_->body(piece);
        out.append(piece);
        return;
    }
    // Only the new piece and what may complete the CRLF CRLF before it need searching.
    const std::size_t from = held_.size() > 3 ? held_.size() - 3 : 0;
    held_.append(piece);
    const bool whole = held_.starts_with("\r\n") || held_.find("\r\n\r\n", from) != std::string::npos;
    if (whole || held_.size() > kMaxCheckedHeader) release(out);
}

void ReceptionAuth::end_content(std::string& out) {
    if (holding_) release(out);
}

void ReceptionAuth::release(std::string& out) {
    holding_ = false;
    std::string held;
    held.swap(held_);
    const std::size_t end = header_end(held);
    if (end == std::string::npos && held.size() > kMaxCheckedHeader) {
        header_too_large_ = true;
        out += held;  // counted as the message goes on; refused at its end
        return;
    }
    const std::size_t header_size = end == std::string::npos ? held.size() : end;
    const std::string_view header = std::string_view(held).substr(0, header_size);
    auto parsed = msgauth::parse_message(header);
    if (!parsed) {
        header_too_large_ = true;  // more fields than anyone verifies
        out += held;
        return;
    }
    const auto forged = msgauth::forged_authentication_results(parsed->fields, service_.authserv_id);
    const bool removed = !forged.empty() && without_fields(header, parsed->fields, forged, out);
    if (!removed) out.append(header);
    const std::string_view body = std::string_view(held).substr(header_size);
    // A header section that ended without its empty line (a line that is no field) left the
    // rest of it to the body, as DKIM verifiers read it.
    const std::string_view body_start = header.substr(std::min(parsed->body_offset, header.size()));
    if (check_) {
        check_->header(parsed->fields);
        check_->body(body_start);
        check_->body(body);
    }
    if (!from_outside_) {
        const auto keys = service_.signing_keys.find(msgauth::header_from_domain(parsed->fields));
        if (keys != service_.signing_keys.end()) {
            for (std::size_t i = 0, next = 0; i < parsed->fields.size(); ++i) {
                if (removed && next < forged.size() && forged[next] == i) {
                    ++next;
                    continue;
                }
                signed_fields_.push_back(parsed->fields[i]);
            }
            signer_ = std::make_shared<msgauth::DkimSigner>(keys->second);
            signing_ = "signed:";
            for (const auto& k : keys->second)
                signing_ += " d=" + k.domain + " s=" + k.selector + " (" + msgauth::key_type_name(k.key.type) + ")";
            signer_->body(body_start);
            signer_->body(body);
        }
    }
    out.append(body);
}

void ReceptionAuth::finish(std::int64_t now, unsigned percent_draw, Done done) {
    if (header_too_large_) {
        Outcome o;
        o.refusal = smtp::Reply{552, "5.3.4", "Message header too large to be checked"};
        o.verdicts = "not checked: the header section is too large";
        done(std::move(o));
        return;
    }
    if (!check_) {
        Outcome o;
        // RFC 8601 2.7.4: only when message authentication is on ([msgauth] verify).
        if (auth_user_ && service_.settings.verify) {
            o.top = msgauth::authentication_results(service_.authserv_id, msgauth::InboundVerdicts{}, auth_user_) + "\r\n";
            o.verdicts = "auth=pass";
        }
        if (!signer_) {
            done(std::move(o));
            return;
        }
        // RFC 6376 5: the signatures go on top. The private-key work runs off the event loop.
        o.verdicts += std::string(o.verdicts.empty() ? "" : " ") + signing_;
        service_.post([signer = signer_, fields = std::move(signed_fields_), now, o = std::move(o), done = std::move(done)]() mutable {
            std::string signatures;
            for (const std::string& field : signer->finish(fields, now)) signatures += field + "\r\n";
            o.top = signatures + o.top;
            done(std::move(o));
        });
        signer_.reset();
        return;
    }
    const config::Config::Msgauth settings = service_.settings;
    const std::string authserv_id = service_.authserv_id;
    check_->finish(now, percent_draw, [settings, authserv_id, done = std::move(done)](msgauth::InboundVerdicts v) {
        Outcome o;
        const policy::MsgauthDecision d = policy::msgauth_decision(settings, v);
        o.refusal = d.refusal;
        o.verdicts = v.summary();
        if (!d.why.empty()) o.verdicts += "; " + d.why + (d.refusal ? ": refused" : d.quarantine ? ": quarantined" : ": marked");
        o.top = msgauth::authentication_results(authserv_id, v) + "\r\n";
        if (d.quarantine) o.top += policy::quarantine_field(d);
        done(std::move(o));
    });
}

}  // namespace ehlo::net

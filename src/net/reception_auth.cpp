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

ReceptionAuth::ReceptionAuth(const MsgauthService& service) : service_(service) {}

ReceptionAuth::ReceptionAuth(const MsgauthService& service, std::string auth_user)
    : service_(service), auth_user_(std::move(auth_user)) {}

void ReceptionAuth::mail(const std::string& ip, const std::string& sender, const std::string& helo, std::int64_t now) {
    if (auth_user_) return;
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
}

void ReceptionAuth::content(std::string_view piece, std::string& out) {
    if (!holding_) {
        if (check_) check_->body(piece);
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
    if (forged.empty() || !without_fields(header, parsed->fields, forged, out)) out.append(header);
    const std::string_view body = std::string_view(held).substr(header_size);
    if (check_) {
        check_->header(parsed->fields);
        // A header section that ended without its empty line (a line that is no field) left
        // the rest of it to the body, as DKIM verifiers read it.
        if (parsed->body_offset < header.size()) check_->body(header.substr(parsed->body_offset));
        check_->body(body);
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
        msgauth::InboundVerdicts none;
        Outcome o;
        o.top = msgauth::authentication_results(service_.authserv_id, none, auth_user_) + "\r\n";
        o.verdicts = auth_user_ ? "auth=pass" : "none";
        done(std::move(o));
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

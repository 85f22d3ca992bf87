#include "net/reception_auth.hpp"

#include "msgauth/arc.hpp"
#include "msgauth/auth_results.hpp"
#include "msgauth/dmarc_report.hpp"
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

// Lines after the fields that parse_message read (a line that is no field ended them before
// the empty line): lenient readers may still take what follows for header fields, so any
// Authentication-Results among them that claims `authserv_id` goes too, with its continuation
// lines. The rest is kept as it was.
std::string without_ours(std::string_view rest, std::string_view authserv_id) {
    std::string out;
    const std::string ours = msgauth::lower(authserv_id);
    std::size_t at = 0;
    while (at < rest.size()) {
        // One field: a line, and the lines that continue it.
        std::size_t end = at;
        do {
            const std::size_t nl = rest.find("\r\n", end);
            end = nl == std::string_view::npos ? rest.size() : nl + 2;
        } while (end < rest.size() && (rest[end] == ' ' || rest[end] == '\t') && end != at + 2);
        const std::string_view field = rest.substr(at, end - at);
        const std::size_t colon = field.find(':');
        const bool ours_claimed = colon != std::string_view::npos &&
                                  msgauth::iequals(msgauth::trim(field.substr(0, colon)), "Authentication-Results") &&
                                  msgauth::authserv_id_of(field.substr(colon + 1)) == ours;
        if (!ours_claimed) out.append(field);
        at = end;
    }
    return out;
}

// `header` without the fields at `drop` (indexes into `fields`, which parse_message found in
// it, in order and back to back) nor, after them, any that claims `authserv_id`. False when
// the fields are not where they should be (a line end other than CRLF): then nothing is
// removed.
bool without_fields(std::string_view header, const std::vector<msgauth::HeaderField>& fields,
                    const std::vector<std::size_t>& drop, std::string_view authserv_id, std::string& out) {
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
    kept.append(without_ours(header.substr(at), authserv_id));
    out += kept;
    return true;
}

}  // namespace

ReceptionAuth::ReceptionAuth(const MsgauthService& service, std::optional<std::string> auth_user, bool from_outside)
    : service_(service), auth_user_(std::move(auth_user)), from_outside_(from_outside) {}

void ReceptionAuth::mail(const std::string& ip, const std::string& sender, const std::string& helo, std::int64_t now) {
    const std::size_t at = sender.rfind('@');
    sender_domain_ = at == std::string::npos ? std::string{} : msgauth::normal_dns_name(std::string_view(sender).substr(at + 1));
    client_ip_ = ip;
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
    malformed_header_ = false;
    signer_.reset();
    signed_fields_.clear();
    signing_.clear();
    arc_hasher_.reset();
    arc_fields_.clear();
}

void ReceptionAuth::content(std::string_view piece, std::string& out) {
    if (!holding_) {
        if (check_) check_->body(piece);
        if (signer_) signer_->body(piece);
        if (arc_hasher_) arc_hasher_->update(piece);
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
    const bool removed = without_fields(header, parsed->fields, forged, service_.authserv_id, out);
    if (!removed) {
        out.append(header);
        // Fields claiming our verdicts that cannot be cut out cleanly: not passed on as ours.
        if (!forged.empty()) malformed_header_ = true;
    }
    const std::string_view body = std::string_view(held).substr(header_size);
    // A header section that ended without its empty line (a line that is no field) left the
    // rest of it to the body, as DKIM verifiers read it.
    const std::string_view body_start = header.substr(std::min(parsed->body_offset, header.size()));
    if (check_) {
        check_->header(parsed->fields);
        check_->body(body_start);
        check_->body(body);
    }
    // The fields as they go on: what a signature or a seal of ours covers.
    std::vector<msgauth::HeaderField> kept;
    for (std::size_t i = 0, next = 0; i < parsed->fields.size(); ++i) {
        if (next < forged.size() && forged[next] == i) {
            ++next;
            continue;
        }
        kept.push_back(parsed->fields[i]);
    }
    if (from_outside_ && service_.arc_key) {
        arc_fields_ = kept;
        arc_hasher_ = std::make_shared<msgauth::BodyHasher>(msgauth::Canon::Relaxed, msgauth::HashAlg::Sha256);
        arc_hasher_->update(body_start);
        arc_hasher_->update(body);
    }
    if (!from_outside_) {
        // An authenticated user's mail is signed only for the domain of its envelope sender,
        // which the session checked it may use; our own networks' for any of our domains.
        const msgauth::AuthorDomain author = msgauth::header_from_domain(parsed->fields);
        const auto keys = author.problem.empty() ? service_.signing_keys.find(author.domain) : service_.signing_keys.end();
        const bool may_sign = !auth_user_ || author.domain == sender_domain_;
        if (may_sign && keys != service_.signing_keys.end()) {
            signed_fields_ = std::move(kept);
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

void ReceptionAuth::finish(std::int64_t now, unsigned percent_draw, bool forwarded, Done done) {
    if (header_too_large_ || malformed_header_) {
        Outcome o;
        // Only mail from outside is refused for it; ours goes on as it came, unsigned.
        if (from_outside_) {
            o.refusal = header_too_large_ ? smtp::Reply{552, "5.3.4", "Message header too large to be checked"}
                                          : smtp::Reply{550, "5.6.0", "Malformed header section (line ends other than CRLF)"};
            o.verdicts = header_too_large_ ? "not checked: the header section is too large" : "not checked: malformed header section";
        }
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
            try {
                for (const std::string& field : signer->finish(fields, now)) signatures += field + "\r\n";
            } catch (const std::exception& e) {
                // Unsigned mail of a signing domain would fail its own DMARC: not sent so.
                o.refusal = smtp::Reply{451, "4.3.0", "Message could not be signed, try again later"};
                o.verdicts += std::string("; signing failed: ") + e.what();
            }
            o.top = signatures + o.top;
            done(std::move(o));
        });
        signer_.reset();
        return;
    }
    const config::Config::Msgauth settings = service_.settings;
    const std::string authserv_id = service_.authserv_id;
    // RFC 8617 5.1: a forwarded message carries our verdicts on in a seal of our own.
    std::optional<msgauth::DkimSigningKey> seal_key = forwarded && arc_hasher_ ? service_.arc_key : std::nullopt;
    std::string body_hash = seal_key ? arc_hasher_->finish() : std::string{};
    check_->finish(now, percent_draw, [settings, authserv_id, seal_key, body_hash, fields = std::move(arc_fields_), now,
                                       ip = client_ip_, done = std::move(done)](msgauth::InboundVerdicts v) {
        Outcome o;
        const policy::MsgauthDecision d = policy::msgauth_decision(settings, v);
        o.refusal = d.refusal;
        o.verdicts = v.summary();
        if (!d.why.empty()) o.verdicts += "; " + d.why + (d.refusal ? ": refused" : d.quarantine ? ": quarantined" : ": marked");
        const std::string results = msgauth::authentication_results(authserv_id, v);
        o.top = results + "\r\n";
        if (d.quarantine) o.top += policy::quarantine_field(d);
        // RFC 7489 7.2: what the domain's aggregate report says of this message.
        if (v.dmarc && v.dmarc->record) {
            const auto disposition = o.refusal ? msgauth::DmarcPolicy::Reject
                                     : d.quarantine ? msgauth::DmarcPolicy::Quarantine : msgauth::DmarcPolicy::None;
            msgauth::StoredReportRow row{v.dmarc->record_domain, v.dmarc->record->text,
                                         msgauth::dmarc_report_row(ip, *v.dmarc, v.spf.value_or(msgauth::SpfVerdict{}), v.dkim,
                                                                   disposition)};
            o.dmarc_row = msgauth::encode_report_row(row);
        }
        if (seal_key && !o.refusal) {
            // The AAR carries the payload of our Authentication-Results (after its name).
            const std::string payload = std::string(msgauth::trim(results.substr(results.find(':') + 1)));
            std::string seal;
            for (const std::string& f : msgauth::arc_seal(fields, body_hash, *seal_key, payload, v.arc.value_or(msgauth::ArcVerdict{}), now))
                seal += f + "\r\n";
            if (!seal.empty()) o.verdicts += "; sealed: d=" + seal_key->domain + " s=" + seal_key->selector;
            o.top = seal + o.top;
        }
        done(std::move(o));
    });
    arc_hasher_.reset();
}

}  // namespace ehlo::net

#include "delivery/dsn.hpp"

#include <algorithm>

#include "smtp/text.hpp"

namespace ehlo::delivery {

namespace {

using smtp::has_non_ascii;
using smtp::header_section;

// Header lines are kept within this many characters where a space allows (RFC 5322 2.1.1).
constexpr std::size_t kFoldColumn = 78;
// Variants of the caller's boundary tried when the returned message happens to contain it.
constexpr int kBoundaryAttempts = 100;

const char* action_word(DsnAction a) {
    switch (a) {
    case DsnAction::Failed: return "failed";
    case DsnAction::Delayed: return "delayed";
    case DsnAction::Delivered: return "delivered";
    case DsnAction::Relayed: return "relayed";
    case DsnAction::Expanded: return "expanded";
    }
    return "failed";
}

// Text from elsewhere (a peer's reply, an address, ENVID) on its way into a header field or a
// line of text: a CR or LF there would start a field or a MIME part of the peer's choosing, so
// every control octet becomes a space; 8-bit octets become "?" unless the DSN is UTF-8 anyway.
std::string clean(std::string_view s, bool utf8) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            out += ' ';
        else if (u >= 0x80 && !utf8)
            out += '?';
        else
            out += c;
    }
    return out;
}

// Appends `text` (one logical line) folded at spaces near kFoldColumn; continuation lines
// start with `indent` (folding white space for a header field). Runs of spaces collapse.
void append_folded(std::string& out, std::string_view text, std::string_view indent) {
    std::size_t column = 0;
    bool first = true;
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] == ' ') {
            ++i;
            continue;
        }
        const std::size_t end = std::min(text.find(' ', i), text.size());
        const std::string_view word = text.substr(i, end - i);
        i = end;
        if (!first && column + 1 + word.size() > kFoldColumn) {
            out += "\r\n";
            out += indent;
            column = indent.size();
        } else if (!first) {
            out += ' ';
            ++column;
        }
        out += word;
        column += word.size();
        first = false;
    }
    out += "\r\n";
}

void field(std::string& out, std::string_view name, std::string_view value) {
    append_folded(out, std::string(name) + ": " + std::string(value), " ");
}

// A reply on one line: "550 5.1.1 first line second line".
bool valid_status(std::string_view s) {
    // class "." subject "." detail (RFC 3463 2), checked loosely: digits and two dots.
    if (s.size() < 5 || s.size() > 11 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
    return std::count(s.begin(), s.end(), '.') == 2 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

std::string status_for(const DsnRecipient& r) {
    if (valid_status(r.status)) return r.status;
    if (r.diagnostic) return status_of(*r.diagnostic);
    switch (r.action) {
    case DsnAction::Failed: return "5.0.0";
    case DsnAction::Delayed: return "4.0.0";
    default: return "2.0.0";
    }
}

// "rfc822; a@b", or "utf-8; ..." for an address that needs it (RFC 6533 3).
std::string typed_address(std::string_view address, bool utf8) {
    return std::string(has_non_ascii(address) ? "utf-8; " : "rfc822; ") + clean(address, utf8);
}

// A boundary that no line of `original` can be mistaken for: ours are the only other lines in
// the message, and none of them starts with "--".
std::optional<std::string> pick_boundary(std::string_view wanted, std::string_view original) {
    for (int n = 0; n < kBoundaryAttempts; ++n) {
        std::string b(wanted);
        if (n > 0) b += "=" + std::to_string(n);
        if (original.find("--" + b) == std::string_view::npos) return b;
    }
    return std::nullopt;
}

}  // namespace

bool should_bounce(const smtp::Envelope& envelope) { return envelope.sender.has_value(); }

bool notify_wants(const smtp::Recipient& recipient, DsnAction action) {
    const unsigned n = recipient.notify;
    if (n & smtp::notify::Never) return false;
    switch (action) {
    case DsnAction::Failed: return n == 0 || (n & smtp::notify::Failure);
    case DsnAction::Delayed: return n == 0 || (n & smtp::notify::Delay);
    case DsnAction::Delivered:
    case DsnAction::Relayed:
    case DsnAction::Expanded: return (n & smtp::notify::Success) != 0;
    }
    return false;
}

std::string status_of(const smtp::Reply& reply) {
    if (valid_status(reply.enhanced)) return reply.enhanced;
    const int c = reply.code / 100;
    return c == 2 ? "2.0.0" : c == 5 ? "5.0.0" : "4.0.0";
}

std::optional<Dsn> build_dsn(const smtp::Envelope& envelope, std::string_view content,
                             const std::vector<DsnRecipient>& recipients, const DsnContext& context) {
    if (!should_bounce(envelope)) return std::nullopt;
    std::vector<const DsnRecipient*> reported;
    for (const auto& r : recipients)
        if (notify_wants(envelope.recipients.at(r.index), r.action)) reported.push_back(&r);
    if (reported.empty()) return std::nullopt;

    const std::string sender = envelope.sender->str();
    bool utf8 = envelope.smtputf8 || has_non_ascii(sender);
    for (const auto* r : reported) {
        const auto& rcpt = envelope.recipients[r->index];
        utf8 = utf8 || has_non_ascii(rcpt.address.str()) || has_non_ascii(rcpt.orcpt);
    }
    auto has = [&](DsnAction a) {
        return std::any_of(reported.begin(), reported.end(), [&](const auto* r) { return r->action == a; });
    };
    const bool any_failed = has(DsnAction::Failed);
    const bool any_delayed = has(DsnAction::Delayed);
    const std::string host = clean(context.reporting_mta, false);

    // The human-readable part (RFC 6522 3: first, for people).
    std::string text = "This is the mail system at host " + host + ".\r\n\r\n";
    if (any_failed)
        text += "Your message could not be delivered to one or more recipients.\r\n"
                "The reasons are given below.\r\n";
    else if (any_delayed)
        text += "Your message has not been delivered to one or more recipients yet.\r\n"
                "Delivery will be tried again; no action is needed on your part.\r\n";
    else
        text += "Your message was delivered to the recipients below, or passed on to a mail\r\n"
                "system that does not report delivery.\r\n";
    text += "\r\n";
    for (const auto* r : reported) {
        std::string line = "<" + clean(envelope.recipients[r->index].address.str(), utf8) + ">: " +
                           action_word(r->action);
        if (!r->remote_mta.empty()) {
            line += ", host " + clean(r->remote_mta, false);
            if (r->tls == kNoTls)
                line += " said (without TLS)";
            else if (!r->tls.empty())
                line += " said (over " + clean(r->tls, false) + ")";
            else
                line += " said";
        }
        if (r->diagnostic)
            line += ": " + clean(r->diagnostic->one_line(), utf8);
        else if (!r->reason.empty())
            line += ": " + clean(r->reason, utf8);
        append_folded(text, line, "    ");
    }

    // The machine-readable part (RFC 3464 2.2 per-message, 2.3 per-recipient fields).
    std::string status;
    field(status, "Reporting-MTA", "dns; " + host);
    if (!envelope.envid.empty()) field(status, "Original-Envelope-Id", clean(envelope.envid, false));
    if (!context.arrival_date.empty()) field(status, "Arrival-Date", clean(context.arrival_date, false));
    for (const auto* r : reported) {
        const auto& rcpt = envelope.recipients[r->index];
        status += "\r\n";
        if (!rcpt.orcpt.empty()) field(status, "Original-Recipient", clean(rcpt.orcpt, utf8));
        field(status, "Final-Recipient", typed_address(rcpt.address.str(), utf8));
        field(status, "Action", action_word(r->action));
        field(status, "Status", status_for(*r));
        if (!r->remote_mta.empty()) field(status, "Remote-MTA", "dns; " + clean(r->remote_mta, false));
        if (r->diagnostic) field(status, "Diagnostic-Code", "smtp; " + clean(r->diagnostic->one_line(), utf8));
        if (!r->last_attempt_date.empty()) field(status, "Last-Attempt-Date", clean(r->last_attempt_date, false));
        if (r->action == DsnAction::Delayed && !r->will_retry_until.empty())
            field(status, "Will-Retry-Until", clean(r->will_retry_until, false));
    }

    // The returned message or its headers (RFC 3462 / 6522 3, RFC 3461 4.3).
    const bool full = any_failed && envelope.ret == smtp::DsnRet::Full && content.size() <= kMaxReturnedContent;
    std::string_view original = full ? content : header_section(content);
    std::optional<std::string> boundary = pick_boundary(context.boundary, original);
    if (!boundary) {
        // The message is made of the candidate boundaries: leave it out rather than let it
        // forge the structure of the report.
        original = {};
        boundary = pick_boundary(context.boundary, original);
    }
    const std::string& b = *boundary;

    std::string subject = any_failed    ? "Undelivered Mail Returned to Sender"
                          : any_delayed ? "Delayed Mail (still being retried)"
                                        : "Successful Mail Delivery Report";
    std::string m;
    field(m, "From", "Mail Delivery System <MAILER-DAEMON@" + host + ">");
    field(m, "To", "<" + clean(sender, utf8) + ">");
    field(m, "Subject", subject);
    if (!context.date.empty()) field(m, "Date", clean(context.date, false));
    if (!context.message_id.empty()) field(m, "Message-ID", clean(context.message_id, false));
    field(m, "Auto-Submitted", "auto-replied");  // RFC 3834 5: not to be answered automatically
    field(m, "MIME-Version", "1.0");
    m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + b + "\"\r\n";
    m += "\r\nThis is a MIME-encapsulated message.\r\n";

    m += "\r\n--" + b + "\r\n";
    m += "Content-Description: Notification\r\n";
    m += std::string("Content-Type: text/plain; charset=") + (utf8 ? "utf-8" : "us-ascii") + "\r\n\r\n";
    m += text;

    m += "\r\n--" + b + "\r\n";
    m += "Content-Description: Delivery report\r\n";
    m += std::string("Content-Type: ") + (utf8 ? "message/global-delivery-status" : "message/delivery-status") +
         "\r\n\r\n";
    m += status;

    if (!original.empty()) {
        m += "\r\n--" + b + "\r\n";
        m += full ? "Content-Description: Undelivered Message\r\n" : "Content-Description: Message Headers\r\n";
        const char* type = full ? (utf8 ? "message/global" : "message/rfc822")
                                : (utf8 ? "message/global-headers" : "text/rfc822-headers");
        m += std::string("Content-Type: ") + type + "\r\n";
        if (has_non_ascii(original)) m += "Content-Transfer-Encoding: 8bit\r\n";
        m += "\r\n";
        m += original;
        if (!original.ends_with("\r\n")) m += "\r\n";
    }
    m += "\r\n--" + b + "--\r\n";

    Dsn dsn;
    dsn.envelope.sender.reset();  // RFC 5321 4.5.5: notifications are sent from <>
    smtp::Recipient to;
    to.address = *envelope.sender;
    to.notify = smtp::notify::Never;  // a DSN about this DSN could go nowhere: its sender is <>
    dsn.envelope.recipients.push_back(std::move(to));
    dsn.envelope.smtputf8 = utf8;
    dsn.envelope.body = has_non_ascii(m) ? smtp::BodyType::EightBitMime : smtp::BodyType::SevenBit;
    dsn.envelope.declared_size = m.size();
    dsn.content = std::move(m);
    return dsn;
}

}  // namespace ehlo::delivery

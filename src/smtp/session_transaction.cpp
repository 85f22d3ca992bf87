// MAIL and RCPT: opening a transaction and collecting its recipients (RFC 5321 3.3).
#include "smtp/address.hpp"
#include "smtp/mail_params.hpp"
#include "smtp/session_impl.hpp"
#include "smtp/text.hpp"

namespace ehlo::smtp {

namespace {

// "FROM:" / "TO:" in any case, then the path. RFC 5321 4.1.2 puts no space after the colon,
// but many clients send one, and accepting it costs nothing.
std::optional<std::string_view> after_keyword(std::string_view arg, std::string_view keyword) {
    if (!istarts_with(arg, keyword)) return std::nullopt;
    arg.remove_prefix(keyword.size());
    while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
    return arg;
}

// What follows the path: nothing, or SP and parameters. Empty when something is glued to ">".
std::optional<std::string_view> parameters_after(std::string_view rest) {
    if (rest.empty()) return rest;
    if (rest.front() != ' ') return std::nullopt;
    return rest.substr(1);
}

}  // namespace

void Session::Impl::on_mail(std::string_view arg) {
    if (greeting_ == Greeting::None) {
        fail(Reply(503, "5.5.1", "Send EHLO or HELO first"));
        return;
    }
    if (transaction_) {
        fail(Reply(503, "5.5.1", "Nested MAIL command"));
        return;
    }
    if (config_.require_tls && !client_.tls) {
        fail(Reply(530, "5.7.0", "Must issue a STARTTLS command first"));  // RFC 3207 4
        return;
    }
    if (config_.require_auth && !authenticated()) {
        fail(Reply(530, "5.7.0", "Authentication required"));  // RFC 4954 6
        return;
    }
    const auto path_text = after_keyword(arg, "FROM:");
    if (!path_text) {
        fail(Reply(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]"));
        return;
    }
    // UTF-8 is parsed here and judged below, once SMTPUTF8 among the parameters is known.
    const ParsedPath path = parse_path(*path_text, true, true);
    if (path.error) {
        // RFC 3463: X.1.7, bad sender's mailbox address syntax.
        fail(Reply(501, "5.1.7", *path.error == PathError::TooLong ? "Path too long" : "Bad sender address syntax"));
        return;
    }
    const auto params = parameters_after(path_text->substr(path.consumed));
    if (!params) {
        fail(Reply(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]"));
        return;
    }
    Envelope envelope;
    envelope.sender = path.mailbox;
    if (auto refusal = apply_mail_params(*params, ParamRules{greeting_ == Greeting::Ehlo, config_.dsn, auth_offered()}, envelope)) {
        fail(*refusal);
        return;
    }
    // RFC 1870 6.1: a declared size beyond the limit is refused at MAIL, before any data.
    // A client that ignores the SIZE it was told is making an error: counted.
    if (config_.max_message_size != 0 && envelope.declared_size &&
        *envelope.declared_size > config_.max_message_size) {
        fail(Reply(552, "5.3.4", "Message size exceeds fixed maximum message size"));
        return;
    }
    // RFC 6531 3.4: a UTF-8 address needs SMTPUTF8 on this MAIL command.
    if (envelope.sender && envelope.sender->needs_smtputf8() && !envelope.smtputf8) {
        reply(Reply(553, "5.6.7", "SMTPUTF8 required"));
        return;
    }
    const Reply verdict = host_.check_mail(envelope);
    reply(verdict);
    if (verdict.code < 200 || verdict.code >= 300) return;
    host_.event("mail", "<" + envelope.sender_str() + ">");
    transaction_ = std::move(envelope);
    content_ = ContentCheck(config_.max_message_size);
}

void Session::Impl::on_rcpt(std::string_view arg) {
    if (!transaction_) {
        fail(Reply(503, "5.5.1", "Need MAIL before RCPT"));
        return;
    }
    const auto path_text = after_keyword(arg, "TO:");
    if (!path_text) {
        fail(Reply(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]"));
        return;
    }
    const ParsedPath path = parse_forward_path(*path_text, transaction_->smtputf8);
    if (path.error) {
        switch (*path.error) {
            case PathError::Utf8NotAllowed:
                reply(Reply(553, "5.6.7", "SMTPUTF8 required"));  // RFC 6531 3.7.4.1
                return;
            case PathError::TooLong:
                fail(Reply(501, "5.1.3", "Path too long"));  // RFC 5321 4.5.3.1.3
                return;
            case PathError::Syntax:
                fail(Reply(501, "5.1.3", "Bad recipient address syntax"));
                return;
        }
    }
    const auto params = parameters_after(path_text->substr(path.consumed));
    if (!params) {
        fail(Reply(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]"));
        return;
    }
    Recipient recipient;
    recipient.address = *path.mailbox;
    if (auto refusal = apply_rcpt_params(*params, ParamRules{greeting_ == Greeting::Ehlo, config_.dsn}, recipient)) {
        fail(*refusal);
        return;
    }
    // RFC 5321 4.5.3.1.10: too many recipients is a temporary matter; the client sends the
    // rest in another transaction. Past kRecipientOvershoot such refusals count as errors.
    if (transaction_->recipients.size() >= config_.max_recipients) {
        const Reply r(452, "4.5.3", "Too many recipients");
        if (++overshoot_ > kRecipientOvershoot)
            fail(r);
        else
            reply(r);
        return;
    }
    const Reply verdict = host_.check_rcpt(*transaction_, recipient);
    if (verdict.permanent()) {
        fail(verdict);  // a client guessing mailboxes is making errors too
        return;
    }
    reply(verdict);
    if (verdict.code < 200 || verdict.code >= 300) return;
    host_.event("rcpt", "<" + recipient.address.str() + ">");
    transaction_->recipients.push_back(std::move(recipient));
}

}  // namespace ehlo::smtp

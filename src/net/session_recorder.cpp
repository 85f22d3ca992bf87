#include "net/session_recorder.hpp"

#include <cctype>
#include <utility>

#include "smtp/address.hpp"

namespace ehlo::net {
namespace {

std::string verb_of(std::string_view command) {
    std::string verb(command.substr(0, command.find(' ')));
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return verb;
}

std::string_view trimmed(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

}  // namespace

CommandPath command_path(std::string_view command) {
    const auto colon = command.find(':');
    if (colon == std::string_view::npos) return {};
    std::string_view rest = command.substr(colon + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);  // "MAIL FROM: <a@b>"
    const smtp::ParsedPath parsed = smtp::parse_path(rest, true, true);
    if (!parsed.error)  // as the envelope has it: a source route dropped (RFC 5321 4.1.2)
        return {parsed.mailbox ? parsed.mailbox->str() : std::string(), std::string(trimmed(rest.substr(parsed.consumed)))};
    // Refused by the grammar: what is between the first < and the next >, as the client wrote it.
    const auto open = rest.find('<');
    if (open == std::string_view::npos) return {std::string(trimmed(rest)), {}};
    const auto close = rest.find('>', open);
    if (close == std::string_view::npos) return {std::string(rest.substr(open + 1)), {}};
    return {std::string(rest.substr(open + 1, close - open - 1)), std::string(trimmed(rest.substr(close + 1)))};
}

SessionRecorder::SessionRecorder(observe::History& history, observe::TranscriptMode transcripts, std::string session_id,
                                 std::string client_address, std::string client_name, std::string no_name_reason)
    : history_(history),
      transcript_(transcripts),
      session_id_(std::move(session_id)),
      client_address_(std::move(client_address)) {
    observe::Event e = event(observe::EventKind::Connect);
    e.remote_address = client_address_;
    e.remote_host = std::move(client_name);
    e.detail = std::move(no_name_reason);
    history_.record(std::move(e));
}

SessionRecorder::~SessionRecorder() {
    observe::Event e = event(observe::EventKind::SessionEnd);
    e.detail = command_.empty() ? "closed" : verb_of(command_) == "QUIT" ? "QUIT" : "closed after " + verb_of(command_);
    e.transcript = transcript_.finish();
    history_.record(std::move(e));
}

observe::Event SessionRecorder::event(observe::EventKind kind) const {
    observe::Event e;
    e.kind = kind;
    e.session_id = session_id_;
    return e;
}

void SessionRecorder::line(bool from_client, std::string_view text) {
    transcript_.add(from_client, text);
    if (from_client) {
        // AUTH's later lines ("(authentication data)") answer a 334, not a new command.
        if (!text.starts_with('(')) command_ = text;
        return;
    }
    if (!reply_.empty()) reply_ += '\n';
    reply_ += text;
    if (text.size() == 3 || (text.size() > 3 && text[3] == ' ')) replied(std::exchange(reply_, {}));
}

void SessionRecorder::replied(const std::string& reply) {
    const std::string verb = verb_of(command_);
    const int code = observe::reply_code(reply);
    if (verb == "HELO" || verb == "EHLO") {
        observe::Event e = event(observe::EventKind::Helo);
        const auto space = command_.find(' ');
        e.helo = space == std::string::npos ? std::string{} : command_.substr(space + 1);
        e.reply = reply.substr(0, reply.find('\n'));  // not the whole list of extensions
        history_.record(std::move(e));
    } else if (verb == "MAIL") {
        observe::Event e = event(observe::EventKind::MailFrom);
        CommandPath mail = command_path(command_);
        e.sender = std::move(mail.path);
        e.detail = std::move(mail.parameters);
        e.reply = reply;
        history_.record(std::move(e));
    } else if (verb == "RCPT") {
        observe::Event e = event(observe::EventKind::RcptTo);
        e.recipient = command_path(command_).path;
        e.reply = reply;
        history_.record(std::move(e));
    } else if (verb == "AUTH" && code != 334) {
        // The verdict; the user is known only when it is a success (authenticated()).
        observe::Event e = event(observe::EventKind::Auth);
        e.auth_user = std::exchange(auth_user_, {});
        e.reply = reply;
        history_.record(std::move(e));
    } else if ((verb == "DATA" || verb == "BDAT") && code >= 400) {
        // The DATA command itself, or the content after its 354, or a BDAT chunk refused.
        observe::Event e = event(observe::EventKind::DataRefused);
        e.reply = reply;
        history_.record(std::move(e));
    }
}

void SessionRecorder::tls(const std::string& description) {
    observe::Event e = event(observe::EventKind::Tls);
    e.tls = description;
    history_.record(std::move(e));
}

void SessionRecorder::verified(const std::string& queue_id, std::string verdicts, std::string dmarc_row) {
    observe::Event e = event(observe::EventKind::Verified);
    e.queue_id = queue_id;
    e.detail = std::move(verdicts);
    e.dmarc = std::move(dmarc_row);
    history_.record(std::move(e));
}

void SessionRecorder::authenticated(const std::string& user) { auth_user_ = user; }

}  // namespace ehlo::net

#include "net/session_recorder.hpp"

#include <cctype>
#include <utility>

namespace ehlo::net {
namespace {

std::string verb_of(std::string_view command) {
    std::string verb(command.substr(0, command.find(' ')));
    for (char& c : verb) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return verb;
}

// The path of "MAIL FROM:<a@b> SIZE=1" or "RCPT TO:<c@d>", without brackets ("" for <>).
std::string path_of(std::string_view command) {
    const auto open = command.find('<');
    if (open == std::string_view::npos) return std::string(command.substr(command.find(':') + 1));
    const auto close = command.find('>', open);
    return std::string(command.substr(open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1));
}

// The ESMTP parameters after the path ("SIZE=1 BODY=8BITMIME"), empty if none.
std::string parameters_of(std::string_view command) {
    const auto close = command.find('>');
    if (close == std::string_view::npos) return {};
    std::string_view rest = command.substr(close + 1);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
    return std::string(rest);
}

}  // namespace

SessionRecorder::SessionRecorder(observe::History& history, observe::TranscriptMode transcripts, std::string session_id,
                                 std::string client_address)
    : history_(history),
      transcript_(transcripts),
      session_id_(std::move(session_id)),
      client_address_(std::move(client_address)) {
    observe::Event e = event(observe::EventKind::Connect);
    e.remote_address = client_address_;
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
        e.sender = path_of(command_);
        e.detail = parameters_of(command_);
        e.reply = reply;
        history_.record(std::move(e));
    } else if (verb == "RCPT") {
        observe::Event e = event(observe::EventKind::RcptTo);
        e.recipient = path_of(command_);
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

// The session's input loop and reply path. Input is consumed in one place (process) by the
// reader of the current state; replies leave through one place (reply), which also traces.
#include "smtp/session.hpp"

#include <array>
#include <utility>

#include "smtp/sasl.hpp"
#include "smtp/session_impl.hpp"
#include "smtp/text.hpp"

namespace ehlo::smtp {

// The handler of each Verb, in the order of the enum: the command table's other half.
const std::array<Session::Impl::Handler, kVerbCount> Session::Impl::kHandlers = {
    &Impl::on_helo,      // Helo
    &Impl::on_ehlo,      // Ehlo
    &Impl::on_mail,      // Mail
    &Impl::on_rcpt,      // Rcpt
    &Impl::on_data,      // Data
    &Impl::on_bdat,      // Bdat
    &Impl::on_rset,      // Rset
    &Impl::on_noop,      // Noop
    &Impl::on_help,      // Help
    &Impl::on_vrfy,      // Vrfy
    &Impl::on_quit,      // Quit
    &Impl::on_starttls,  // StartTls
    &Impl::on_auth,      // Auth
    &Impl::on_not_implemented,
};

std::size_t command_line_limit(const SessionConfig& config, LineVerb verb) {
    switch (verb) {
        case LineVerb::Mail:
            return kMaxCommandLine + kSizeParamLength + kBodyParamLength + kSmtpUtf8ParamLength +
                   (config.dsn ? kRetParamLength + kEnvidParamLength : 0) + (config.auth_available ? kAuthParamLength : 0);
        case LineVerb::Rcpt:
            return kMaxCommandLine + (config.dsn ? kNotifyParamLength + kOrcptParamLength : 0);
        case LineVerb::Other:
            break;
    }
    return kMaxCommandLine;
}

Session::Impl::Impl(const SessionConfig& c, ClientInfo ci, SessionHost& h)
    : config_(c), client_(std::move(ci)), host_(h), lines_(kMaxCommandLine), content_(c.max_message_size) {
    lines_.extend("MAIL ", command_line_limit(config_, LineVerb::Mail));
    lines_.extend("RCPT ", command_line_limit(config_, LineVerb::Rcpt));
    if (config_.auth_available) lines_.extend("AUTH ", kMaxAuthLine);
}

void Session::Impl::receive(std::string_view bytes) {
    switch (state_) {
        case State::Closed:
        case State::StartTls:  // plaintext sent after STARTTLS must never be executed
            return;
        case State::AwaitingHost:
        case State::AwaitingAuth:
            if (in_.size() - pos_ + bytes.size() > kMaxPendingInput) {
                input_overflow_ = true;
                return;
            }
            in_.append(bytes);
            return;
        default:
            in_.append(bytes);
            process();
    }
}

void Session::Impl::process() {
    // Host callbacks may call back in (message_done from within end_message): the loop that is
    // already running picks up the new state.
    if (processing_) return;
    processing_ = true;
    bool progress = true;
    while (progress) {
        switch (state_) {
            case State::Command: progress = step_command(); break;
            case State::Data: progress = step_data(); break;
            case State::Chunk: progress = step_chunk(); break;
            case State::Auth: progress = step_auth(); break;
            default: progress = false; break;
        }
    }
    if (state_ == State::Closed || state_ == State::StartTls) {
        in_.clear();
    } else {
        in_.erase(0, pos_);
    }
    pos_ = 0;
    processing_ = false;
}

bool Session::Impl::step_command() {
    const LineReader::Event e = lines_.next(in_, pos_);
    switch (e.kind) {
        case LineReader::Kind::NeedMore:
            return false;
        case LineReader::Kind::TooLong:
            // RFC 5321 4.5.3.1.4: answered now, not when the line ends, so that a client that
            // never sends CRLF learns why nothing happens.
            host_.trace(true, printable(e.text));
            fail(Reply(500, "5.5.2", "Line too long"));
            return true;
        case LineReader::Kind::BareLf:
            // RFC 5321 2.3.8: only CRLF ends a line. Said at once, so that a person typing
            // into nc or telnet without CRLF is told what is wrong.
            host_.trace(true, printable(e.text));
            fail(Reply(500, "5.5.2", "Bare LF received; lines must end with CRLF"));
            return true;
        case LineReader::Kind::Line:
            break;
    }
    // A copy: a handler may discard the input buffer (STARTTLS).
    std::string line(e.text);
    // An AUTH initial response holds the password: the trace gets the mechanism only.
    if (istarts_with(line, "AUTH ")) {
        const CommandLine auth = split_command_line(split_command_line(line).argument);
        host_.trace(true, "AUTH " + printable(auth.verb) + (auth.argument.empty() ? "" : " (authentication data)"));
    } else {
        host_.trace(true, printable(line));
    }
    if (line.find_first_of(std::string_view("\r\0", 2)) != std::string::npos) {
        fail(Reply(500, "5.5.2", "Bare CR or NUL in command line"));
        return true;
    }
    execute(line);
    wipe(line);
    return true;
}

void Session::Impl::execute(std::string_view line) {
    const CommandLine cmd = split_command_line(line);
    const CommandSpec* spec = find_command(cmd.verb);
    if (!spec) {
        fail(Reply(500, "5.5.2", "Command unrecognized"));
        return;
    }
    answering_ehlo_ = spec->verb == Verb::Ehlo;
    const bool has_argument = !cmd.argument.empty();
    if ((spec->flags & command_flag::NoArgument) && has_argument) {
        fail(Reply(501, "5.5.4", "Syntax: " + std::string(spec->usage)));
    } else if ((spec->flags & command_flag::NeedsArgument) && !has_argument) {
        fail(Reply(501, "5.5.4", "Syntax: " + std::string(spec->usage)));
    } else {
        (this->*kHandlers[static_cast<std::size_t>(spec->verb)])(cmd.argument);
    }
    answering_ehlo_ = false;
}

bool Session::Impl::enhanced_codes() const {
    // RFC 2034: enhanced codes once ENHANCEDSTATUSCODES was offered, i.e. after EHLO; the
    // reply to a failed EHLO already speaks to an ESMTP client.
    return greeting_ == Greeting::Ehlo || answering_ehlo_;
}

void Session::Impl::reply(const Reply& r) {
    if (state_ == State::Closed) return;
    const std::string wire = r.wire(enhanced_codes());
    for (std::size_t start = 0; start < wire.size();) {
        const std::size_t end = wire.find("\r\n", start);
        host_.trace(false, std::string_view(wire).substr(start, end - start));
        start = end + 2;
    }
    if (r.code >= 400) host_.event("rejected", std::string_view(wire).substr(0, wire.find("\r\n")));
    out_ += wire;
}

void Session::Impl::fail(const Reply& r) {
    reply(r);
    // RFC 5321 4.2.2 / 3.8: a client that keeps sending bad commands is not worth serving.
    count_error("too-many-errors", std::to_string(errors_ + 1), Reply(421, "4.7.0", "Too many errors, closing connection"));
}

void Session::Impl::junk(const Reply& r) {
    reply(r);
    if (config_.max_junk_commands == 0 || ++junk_ <= config_.max_junk_commands) return;
    // The client is told why it is closed: it sent no bad command, only too many idle ones.
    count_error("too-many-commands", std::to_string(junk_),
                Reply(421, "4.7.0", "Too many commands without mail, closing connection"));
}

void Session::Impl::count_error(std::string_view event, std::string_view detail, const Reply& closing) {
    if (state_ == State::Closed || config_.max_errors == 0) return;
    if (++errors_ >= config_.max_errors) {
        host_.event(event, detail);
        close_with(closing);
    }
}

void Session::Impl::close() {
    if (message_open_) {
        message_open_ = false;
        host_.abort_message();
    }
    state_ = State::Closed;
}

void Session::Impl::close_with(const Reply& r) {
    reply(r);
    close();
}

void Session::Impl::close_or_defer(const Reply& r) {
    if (state_ == State::Closed) return;
    // The host holds a message and will answer for it: that reply goes first.
    if (state_ == State::AwaitingHost || state_ == State::AwaitingAuth) {
        if (!close_after_message_) close_after_message_ = r;
        return;
    }
    close_with(r);
}

void Session::Impl::reset_transaction() {
    if (message_open_) {
        message_open_ = false;
        host_.abort_message();
    }
    transaction_.reset();
    bdat_used_ = false;
}

std::string Session::Impl::protocol() const {
    // RFC 3848 and RFC 6531 4.3.
    if (greeting_ != Greeting::Ehlo) return "SMTP";
    std::string p = (transaction_ && transaction_->smtputf8) ? "UTF8SMTP" : "ESMTP";
    if (client_.tls) p += 'S';
    if (authenticated()) p += 'A';
    return p;
}

// --- Session ---------------------------------------------------------------------------------

Session::Session(const SessionConfig& config, ClientInfo client, SessionHost& host)
    : impl_(std::make_unique<Impl>(config, std::move(client), host)) {}

Session::~Session() = default;

void Session::start() {
    impl_->reply(Reply(220, "", impl_->config_.hostname + " ESMTP ehlo"));
}

void Session::start_refused(const Reply& refusal) { impl_->close_with(refusal); }

void Session::receive(std::string_view bytes) { impl_->receive(bytes); }

void Session::message_done(const Reply& reply) { impl_->message_done(reply); }

void Session::peer_closed() {
    if (impl_->state_ == Impl::State::Closed) return;
    impl_->close();
}

void Session::timeout() {
    if (impl_->state_ == Impl::State::Closed) return;
    impl_->host_.event("timeout", "");
    impl_->close_or_defer(Reply(421, "4.4.2", impl_->config_.hostname + " Timeout, closing connection"));
}

void Session::message_timeout() {
    if (impl_->state_ == Impl::State::Closed || !in_message()) return;
    impl_->host_.event("data-timeout", "");
    impl_->close_with(Reply(421, "4.4.2", impl_->config_.hostname + " Message transfer time limit exceeded, closing connection"));
}

void Session::message_too_slow(std::string_view detail) {
    if (impl_->state_ == Impl::State::Closed || !in_message()) return;
    impl_->host_.event("data-too-slow", detail);
    impl_->close_with(Reply(421, "4.4.2", impl_->config_.hostname + " Transfer too slow, closing connection"));
}

void Session::shutdown() {
    if (impl_->state_ == Impl::State::Closed) return;
    impl_->host_.event("shutdown", "");
    impl_->close_or_defer(Reply(421, "4.3.2", impl_->config_.hostname + " Service shutting down"));
}

bool Session::tls_handshake_pending() const { return impl_->state_ == Impl::State::StartTls; }

void Session::tls_started() { impl_->tls_started(); }

std::string Session::take_output() { return std::exchange(impl_->out_, std::string{}); }

bool Session::wants_close() const { return impl_->state_ == Impl::State::Closed; }

bool Session::awaiting_host() const {
    return impl_->state_ == Impl::State::AwaitingHost || impl_->state_ == Impl::State::AwaitingAuth;
}

void Session::auth_done(AuthVerdict verdict) { impl_->auth_done(verdict); }

const std::string& Session::authenticated_user() const { return impl_->authenticated_user_; }

bool Session::in_message() const {
    const auto s = impl_->state_;
    return s == Impl::State::Data || s == Impl::State::Chunk || (impl_->bdat_used_ && impl_->message_open_);
}

const std::string& Session::helo_name() const { return impl_->helo_; }

bool Session::esmtp() const { return impl_->greeting_ == Impl::Greeting::Ehlo; }

std::string Session::protocol() const { return impl_->protocol(); }

}  // namespace ehlo::smtp

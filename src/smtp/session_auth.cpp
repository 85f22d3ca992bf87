// AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN: the dialog only. Whether the credentials
// are good is the host's to say, later (authenticate() -> auth_done()), as a message's
// durability is: hashing a password takes time and must not happen here.
#include "smtp/sasl.hpp"
#include "smtp/session_impl.hpp"
#include "smtp/text.hpp"

namespace ehlo::smtp {

namespace {

// LOGIN's prompts, base64 of "Username:" and "Password:" (draft-murchison-sasl-login).
constexpr std::string_view kUsernamePrompt = "VXNlcm5hbWU6";
constexpr std::string_view kPasswordPrompt = "UGFzc3dvcmQ6";

}  // namespace

bool Session::Impl::auth_offered() const {
    // RFC 4954 4 and 14: passwords only inside TLS, unless the operator allowed it (loopback).
    return config_.auth_available && (client_.tls || config_.auth_plaintext);
}

void Session::Impl::on_auth(std::string_view arg) {
    if (!config_.auth_available) {
        fail(Reply(502, "5.5.1", "Command not implemented"));
        return;
    }
    if (greeting_ != Greeting::Ehlo) {
        fail(Reply(503, "5.5.1", "Send EHLO first"));
        return;
    }
    if (!auth_offered()) {
        fail(Reply(538, "5.7.11", "Encryption required for requested authentication mechanism"));  // RFC 4954 6
        return;
    }
    if (authenticated()) {
        fail(Reply(503, "5.5.1", "Already authenticated"));  // RFC 4954 4
        return;
    }
    if (transaction_) {
        fail(Reply(503, "5.5.1", "AUTH not permitted during a mail transaction"));  // RFC 4954 4
        return;
    }
    const CommandLine parts = split_command_line(arg);
    const std::string_view mechanism = parts.verb;
    const std::string_view initial = parts.argument;
    if (iequals(mechanism, "PLAIN")) {
        auth_mechanism_ = AuthMechanism::Plain;
    } else if (iequals(mechanism, "LOGIN")) {
        auth_mechanism_ = AuthMechanism::Login;
    } else {
        fail(Reply(504, "5.5.4", "Unrecognized authentication type"));
        return;
    }
    auth_user_.clear();
    if (initial.empty()) {
        reply(Reply(334, "", auth_mechanism_ == AuthMechanism::Login ? std::string(kUsernamePrompt) : std::string()));
        state_ = State::Auth;
        return;
    }
    // RFC 4954 4: "=" is an initial response of zero length.
    auth_response(initial == "=" ? std::string_view() : initial);
}

bool Session::Impl::step_auth() {
    const LineReader::Event e = auth_lines_.next(in_, pos_);
    switch (e.kind) {
        case LineReader::Kind::NeedMore:
            return false;
        case LineReader::Kind::TooLong:
            // RFC 4954 6: 500 5.5.6. The rest of the line cannot be told from commands that
            // might follow it, so the session ends rather than read it as commands.
            host_.trace(true, "(authentication data)");
            reply(Reply(500, "5.5.6", "Authentication exchange line is too long"));
            close_with(Reply(421, "4.7.0", config_.hostname + " Closing connection"));
            return true;
        case LineReader::Kind::BareLf:
            state_ = State::Command;
            host_.trace(true, "(authentication data)");
            fail(Reply(501, "5.5.2", "Invalid base64 data"));
            return true;
        case LineReader::Kind::Line:
            break;
    }
    // Never traced: it holds the password.
    host_.trace(true, "(authentication data)");
    std::string line(e.text);
    state_ = State::Command;
    if (line == "*") {
        fail(Reply(501, "5.5.2", "Authentication cancelled"));  // RFC 4954 4
        return true;
    }
    auth_response(line);
    wipe(line);
    return true;
}

void Session::Impl::auth_response(std::string_view base64) {
    auto decoded = base64_decode(base64);
    if (!decoded) {
        state_ = State::Command;
        fail(Reply(501, "5.5.2", "Invalid base64 data"));  // RFC 4954 4
        return;
    }
    if (auth_mechanism_ == AuthMechanism::Plain) {
        auto plain = parse_plain(*decoded);
        wipe(*decoded);
        if (!plain) {
            fail(Reply(501, "5.5.2", "Invalid PLAIN response"));
            return;
        }
        // RFC 4616 2: an authorization identity other than the user's own would be acting as
        // someone else; nobody here may.
        if (!plain->authzid.empty() && plain->authzid != plain->authcid) {
            wipe(plain->password);
            fail(Reply(535, "5.7.8", "Authorization identity must be the user's own"));
            return;
        }
        submit_credentials(std::move(plain->authcid), std::move(plain->password));
        return;
    }
    // LOGIN: the user name, then the password, each after its prompt.
    if (auth_user_.empty()) {
        if (decoded->empty()) {
            fail(Reply(501, "5.5.2", "Empty user name"));
            return;
        }
        auth_user_ = std::move(*decoded);
        reply(Reply(334, "", std::string(kPasswordPrompt)));
        state_ = State::Auth;
        return;
    }
    submit_credentials(std::move(auth_user_), std::move(*decoded));
}

void Session::Impl::submit_credentials(std::string user, std::string password) {
    auth_user_ = user;
    state_ = State::AwaitingAuth;
    host_.authenticate(user, std::move(password));
}

void Session::Impl::auth_done(AuthVerdict verdict) {
    if (state_ != State::AwaitingAuth) return;
    state_ = State::Command;
    switch (verdict) {
        case AuthVerdict::Ok:
            authenticated_user_ = auth_user_;
            host_.event("auth", printable(authenticated_user_));
            reply(Reply(235, "2.7.0", "Authentication successful"));  // RFC 4954 6
            break;
        case AuthVerdict::Failed:
            host_.event("auth-failed", printable(auth_user_));
            fail(Reply(535, "5.7.8", "Authentication credentials invalid"));  // RFC 4954 6
            break;
        case AuthVerdict::Locked:
            host_.event("auth-locked", printable(auth_user_));
            close_with(Reply(421, "4.7.0", config_.hostname + " Too many failed authentications, try again later"));
            break;
        case AuthVerdict::Unavailable:
            reply(Reply(454, "4.7.0", "Temporary authentication failure"));  // RFC 4954 6
            break;
    }
    auth_user_.clear();
    if (close_after_message_) {
        close_with(*close_after_message_);
        return;
    }
    process();
}

}  // namespace ehlo::smtp

// The commands that open, keep up and end a session (RFC 5321 4.1.1), and STARTTLS (RFC 3207).
#include "smtp/address.hpp"
#include "smtp/session_impl.hpp"

namespace ehlo::smtp {

namespace {

// RFC 5321 4.1.1.1: "EHLO" SP ( Domain / address-literal ). The name is kept for the
// Received header, so nothing else passes, UTF-8 included (RFC 6531 3.7.1 wants A-labels).
bool is_valid_helo_argument(std::string_view arg) {
    return is_valid_domain(arg, false) || is_valid_address_literal(arg);
}

}  // namespace

void Session::Impl::on_ehlo(std::string_view arg) {
    if (!is_valid_helo_argument(arg)) {
        fail(Reply(501, "5.5.2", "Invalid EHLO hostname"));
        return;
    }
    // RFC 5321 4.1.4: EHLO clears any transaction, as RSET does.
    reset_transaction();
    greeting_ = Greeting::Ehlo;
    helo_ = std::string(arg);
    host_.event("helo", helo_);
    // RFC 2034: the EHLO reply itself carries no enhanced codes.
    Reply r(250, "", config_.hostname + " greets " + helo_);
    r.lines.push_back("PIPELINING");                                         // RFC 2920
    r.lines.push_back("SIZE " + std::to_string(config_.max_message_size));   // RFC 1870
    r.lines.push_back("8BITMIME");                                           // RFC 6152
    r.lines.push_back("ENHANCEDSTATUSCODES");                                // RFC 2034
    r.lines.push_back("SMTPUTF8");                                           // RFC 6531
    r.lines.push_back("CHUNKING");                                           // RFC 3030
    if (config_.dsn) r.lines.push_back("DSN");                               // RFC 3461
    if (config_.starttls_available && !client_.tls) r.lines.push_back("STARTTLS");  // RFC 3207
    if (auth_offered()) r.lines.push_back("AUTH PLAIN LOGIN");                        // RFC 4954
    junk(r);
}

void Session::Impl::on_helo(std::string_view arg) {
    if (!is_valid_helo_argument(arg)) {
        fail(Reply(501, "5.5.2", "Invalid HELO hostname"));
        return;
    }
    reset_transaction();
    greeting_ = Greeting::Helo;
    helo_ = std::string(arg);
    host_.event("helo", helo_);
    junk(Reply(250, "", config_.hostname));
}

void Session::Impl::on_rset(std::string_view) {
    // RFC 5321 4.1.1.5; RFC 3030 2: also drops the chunks of an unfinished BDAT transfer.
    reset_transaction();
    host_.event("rset", "");
    junk(Reply(250, "2.0.0", "Ok"));
}

void Session::Impl::on_noop(std::string_view) { junk(Reply(250, "2.0.0", "Ok")); }

void Session::Impl::on_help(std::string_view) {
    junk(Reply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP VRFY HELP QUIT; see RFC 5321"));
}

void Session::Impl::on_vrfy(std::string_view arg) {
    // RFC 5321 3.5.3: 252 says "cannot verify, but will try to deliver", which discloses no
    // mailbox: the answer unless the operator enabled VRFY.
    if (!config_.vrfy) {
        junk(Reply(252, "2.5.0", "Cannot VRFY user, but will accept message"));
        return;
    }
    // The argument is a mailbox, with or without its brackets, or a bare user name.
    std::optional<Mailbox> address;
    if (arg.front() == '<' || arg.find('@') != std::string_view::npos) {
        const std::string path = arg.front() == '<' ? std::string(arg) : "<" + std::string(arg) + ">";
        const ParsedPath parsed = parse_forward_path(path, true);
        if (!parsed.error && parsed.consumed == path.size()) address = parsed.mailbox;
    } else if (is_valid_local_part(arg, true)) {
        address = Mailbox{std::string(arg), ""};
    }
    if (!address) {
        fail(Reply(501, "5.1.3", "Bad address syntax"));
        return;
    }
    const Reply verdict = host_.verify(*address);
    // A client probing for mailboxes is making errors, as with RCPT.
    if (verdict.permanent()) {
        fail(verdict);
        return;
    }
    junk(verdict);
}

void Session::Impl::on_quit(std::string_view) {
    host_.event("quit", "");
    close_with(Reply(221, "2.0.0", "Bye"));
}

void Session::Impl::on_not_implemented(std::string_view) { fail(Reply(502, "5.5.1", "Command not implemented")); }

void Session::Impl::on_starttls(std::string_view) {
    if (!config_.starttls_available || client_.tls) {
        fail(Reply(502, "5.5.1", "Command not implemented"));
        return;
    }
    reset_transaction();
    host_.event("starttls", "");
    reply(Reply(220, "2.0.0", "Ready to start TLS"));
    // RFC 3207 4.2 and CVE-2011-0411: what the client pipelined after STARTTLS was sent in
    // plaintext and must not be executed inside the TLS session; process() drops it.
    state_ = State::StartTls;
}

void Session::Impl::tls_started() {
    if (state_ != State::StartTls) return;
    // RFC 3207 4.2: forget everything the client said before; it must say EHLO again.
    client_.tls = true;
    greeting_ = Greeting::None;
    authenticated_user_.clear();
    helo_.clear();
    in_.clear();
    pos_ = 0;
    state_ = State::Command;
}

}  // namespace ehlo::smtp

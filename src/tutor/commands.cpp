// The person's lines before they go out: what a command asks, and the classic mistakes that
// can be seen in it already (a HELO without a name, an address without angle brackets, RCPT
// before MAIL, ...). The line is still sent, so that the person sees the server's own answer;
// only lines that would break the dialog itself are held back (tutor.cpp).
#include <cstdint>
#include <string>

#include "smtp/address.hpp"
#include "smtp/command.hpp"
#include "smtp/text.hpp"
#include "tutor/lessons.hpp"
#include "tutor/safe_text.hpp"

namespace ehlo::tutor::lessons {

namespace {

// RFC 5321 4.5.3.1.4 and 4.5.3.1.6: 512 octets per command line, 1000 per text line, CRLF
// included.
constexpr std::size_t kMaxCommandLine = 512 - 2;
constexpr std::size_t kMaxTextLine = 1000 - 2;

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

bool introduced(const DialogState& s) { return s.phase >= Phase::Mail && s.phase <= Phase::Content; }
bool in_transaction(const DialogState& s) { return s.phase == Phase::Rcpt || s.phase == Phase::Data; }

// The address someone meant, from an argument without brackets: "alice@x" of "alice@x SIZE=1".
std::string bare_address(std::string_view text) {
    text = smtp::trim_blanks(text);
    return safe_text(text.substr(0, text.find(' ')));
}

// MAIL FROM:<path> and RCPT TO:<path>: the keyword, the colon, the brackets, the path.
Pending check_path_command(Asked asked, std::string_view verb, std::string_view arg, const DialogState& state,
                           std::vector<Note>& notes) {
    const bool mail = asked == Asked::Mail;
    const std::string_view keyword = mail ? "FROM" : "TO";
    const std::string example = mail ? "MAIL FROM:<" : "RCPT TO:<";
    const std::string rfc = mail ? "RFC 5321 4.1.1.2, 4.1.2" : "RFC 5321 4.1.1.3, 4.1.2";
    Pending p{asked};

    if (!smtp::istarts_with(arg, keyword)) {
        p.flaw = Flaw::NoKeyword;
        std::string text = upper(verb) + " is followed by " + std::string(keyword) + ": and the address, as in " +
                           example + "address>.";
        if (!mail && smtp::istarts_with(arg, "FROM")) text = "The sender goes with MAIL FROM:, the recipients with RCPT TO:.";
        if (mail && smtp::istarts_with(arg, "TO")) text = "MAIL names the sender (MAIL FROM:); recipients come with RCPT TO:.";
        notes.push_back(note_with_line(NoteKind::Mistake, upper(verb) + " without " + std::string(keyword) + ":",
                                       std::move(text), rfc, example + bare_address(arg) + ">"));
        return p;
    }
    std::string_view rest = arg.substr(keyword.size());
    if (rest.empty() || rest.front() != ':') {
        p.flaw = Flaw::NoKeyword;
        rest = smtp::trim_blanks(rest);
        notes.push_back(note_with_line(NoteKind::Mistake, "The colon after " + std::string(keyword) + " is missing",
                                       "It is " + example + "address>, with a colon and no space before it.", rfc,
                                       example + (rest.empty() || rest.front() != '<' ? bare_address(rest) + ">"
                                                                                      : bare_address(rest.substr(1)))));
        return p;
    }
    rest.remove_prefix(1);
    if (!rest.empty() && rest.front() == ' ') {
        p.flaw = Flaw::SpaceAfterColon;
        rest = smtp::trim_blanks(rest);
        std::string fixed = example + (rest.empty() || rest.front() != '<' ? bare_address(rest) + ">"
                                                                           : safe_text(rest.substr(1)));
        notes.push_back(note_with_line(NoteKind::Mistake, "A space after the colon",
                                       "The grammar has nothing between the colon and the angle bracket. Many servers "
                                       "(ehlo among them) accept the space anyway; strict ones answer 501.",
                                       "RFC 5321 4.1.2", std::move(fixed)));
    }
    if (rest.empty() || rest.front() != '<') {
        p.flaw = Flaw::NoBrackets;
        const std::string addr = bare_address(rest);
        notes.push_back(note_with_line(NoteKind::Mistake, "The address needs angle brackets",
                                       "In the envelope an address goes between < and >: " + example +
                                           (addr.empty() ? "address" : addr) +
                                           ">. Without them a server that follows the grammar answers 501.",
                                       rfc, example + (addr.empty() ? std::string("address") : addr) + ">"));
        return p;
    }
    const smtp::ParsedPath path = mail ? smtp::parse_path(rest, true, true) : smtp::parse_forward_path(rest, true);
    if (path.error) {
        p.flaw = Flaw::BadPath;
        const bool long_path = *path.error == smtp::PathError::TooLong;
        notes.push_back(note(NoteKind::Mistake, long_path ? "The address is too long" : "This is not an address",
                             long_path ? "A local part holds at most 64 octets, a domain 255, the whole path 256."
                                       : "An address is local-part@domain: letters, digits and a few signs before the "
                                         "@, a domain name (labels separated by dots) after it.",
                             long_path ? "RFC 5321 4.5.3.1" : "RFC 5321 4.1.2"));
        return p;
    }
    p.argument = safe_text(rest.substr(0, path.consumed));
    const std::string_view params = smtp::trim_blanks(rest.substr(path.consumed));
    if (!params.empty() && state.helo) {
        p.flaw = Flaw::AfterHelo;
        notes.push_back(note(NoteKind::Mistake, "Parameters need EHLO",
                             "Parameters such as SIZE= or NOTIFY= belong to the extensions that EHLO lists. After "
                             "HELO there are none, so the server refuses them (555).",
                             "RFC 5321 4.1.1.11"));
    }
    if (mail && !path.mailbox && p.flaw == Flaw::None)
        notes.push_back(note(NoteKind::Hint, "The null sender",
                             "MAIL FROM:<> says there is no one to tell if delivery fails. It is for bounces and "
                             "other automatic notices, so that two servers never bounce each other's bounces.",
                             "RFC 5321 4.5.5"));
    return p;
}

}  // namespace

Pending check_command(std::string_view line, const DialogState& state, const Options& options, std::vector<Note>& notes,
                      bool& send) {
    send = true;
    if (line.size() > kMaxCommandLine)
        notes.push_back(note(NoteKind::Mistake, "The line is too long",
                             "A command line is at most 512 octets with its CR LF; the server answers 500.",
                             "RFC 5321 4.5.3.1.4"));
    if (smtp::trim_blanks(line).empty()) {
        notes.push_back(note(NoteKind::Mistake, "An empty line is no command",
                             "Outside a message every line is a command. The server answers 500.", "RFC 5321 4.1.1"));
        return Pending{Asked::Empty};
    }
    const smtp::CommandLine cmd = smtp::split_command_line(line);
    const std::string verb = upper(cmd.verb);
    const std::string_view arg = cmd.argument;
    const auto argument_not_allowed = [&](Asked asked, std::string_view rfc) {
        Pending p{asked};
        if (!arg.empty()) {
            p.flaw = Flaw::Argument;
            notes.push_back(note_with_line(NoteKind::Mistake, verb + " takes no argument",
                                           "Type " + verb + " alone; the server answers 501 to anything after it.",
                                           std::string(rfc), verb));
        }
        return p;
    };

    if (verb == "HELO" || verb == "EHLO") {
        Pending p{verb == "HELO" ? Asked::Helo : Asked::Ehlo};
        if (arg.empty()) {
            p.flaw = Flaw::NoDomain;
            notes.push_back(note_with_line(NoteKind::Mistake, verb + " without a domain",
                                           verb + " needs your host's name: a domain such as " + options.client_name +
                                               ", or an address literal such as [192.0.2.1]. The server writes it "
                                               "into the Received: line of your message. Without it, the answer is 501.",
                                           "RFC 5321 4.1.1.1", verb + " " + options.client_name));
        } else if (!smtp::is_valid_domain(arg, false) && !smtp::is_valid_address_literal(arg)) {
            p.flaw = Flaw::BadDomain;
            notes.push_back(note_with_line(NoteKind::Mistake, "That is not a host name",
                                           "A domain is made of letters, digits and hyphens, its labels separated by "
                                           "dots (" + options.client_name +
                                               "); an IP address goes in brackets ([192.0.2.1]). A strict server answers 501.",
                                           "RFC 5321 4.1.1.1, 4.1.3", verb + " " + options.client_name));
        } else if (p.asked == Asked::Helo) {
            notes.push_back(note(NoteKind::Hint, "HELO is the old greeting",
                                 "It works everywhere, but the reply lists no extensions, and you may use none. EHLO "
                                 "is the same with the extensions.",
                                 "RFC 5321 4.1.1.1"));
        }
        if (in_transaction(state))
            notes.push_back(note(NoteKind::Hint, "This ends the open transaction",
                                 "A new " + verb + " forgets the sender and recipients given so far, as RSET does.",
                                 "RFC 5321 4.1.4"));
        p.argument = safe_text(arg);
        return p;
    }
    if (verb == "MAIL" || verb == "RCPT") {
        const Asked asked = verb == "MAIL" ? Asked::Mail : Asked::Rcpt;
        if (asked == Asked::Mail && !introduced(state)) {
            notes.push_back(note_with_line(NoteKind::Mistake, "MAIL before HELO or EHLO",
                                           "Introduce yourself first; the server answers 503 (bad sequence) to a MAIL "
                                           "before it.",
                                           "RFC 5321 4.1.4", "EHLO " + options.client_name));
            Pending p{asked, Flaw::BeforeHello};
            return p;
        }
        if (asked == Asked::Mail && in_transaction(state)) {
            notes.push_back(note_with_line(NoteKind::Mistake, "A transaction is already open",
                                           "This message has its sender already. Finish it (RCPT TO, DATA), or forget "
                                           "it with RSET first; a second MAIL gets 503.",
                                           "RFC 5321 4.1.1.2, 4.1.4", "RSET"));
            return Pending{asked, Flaw::NestedMail};
        }
        if (asked == Asked::Rcpt && !in_transaction(state)) {
            notes.push_back(note_with_line(NoteKind::Mistake, "RCPT before MAIL",
                                           "Recipients belong to a mail transaction, and MAIL FROM opens it: say who "
                                           "the message is from first. The server answers 503 (bad sequence).",
                                           "RFC 5321 3.3, 4.1.4", mail_line(options.sender)));
            return Pending{asked, Flaw::RcptBeforeMail};
        }
        return check_path_command(asked, cmd.verb, arg, state, notes);
    }
    if (verb == "DATA") {
        Pending p = argument_not_allowed(Asked::Data, "RFC 5321 4.1.1.4");
        if (!in_transaction(state)) {
            p.flaw = Flaw::DataBeforeMail;
            notes.push_back(note_with_line(NoteKind::Mistake, "DATA before MAIL and RCPT",
                                           "The message needs its envelope first: MAIL FROM (the sender), then RCPT TO "
                                           "(each recipient). The server answers 503.",
                                           "RFC 5321 3.3, 4.1.4", mail_line(options.sender)));
        } else if (state.phase == Phase::Rcpt) {
            p.flaw = Flaw::DataBeforeRcpt;
            notes.push_back(note_with_line(NoteKind::Mistake, "DATA before any accepted RCPT",
                                           "No recipient has been accepted yet, so there is nobody to send the message "
                                           "to. The server refuses DATA (ehlo: 554 5.5.1).",
                                           "RFC 5321 3.3", rcpt_line(options.recipient)));
        }
        return p;
    }
    if (verb == "BDAT") {
        Pending p{Asked::Bdat};
        std::uint64_t size = 0;
        std::size_t i = 0;
        while (i < arg.size() && smtp::is_digit(arg[i]) && i < 18) size = size * 10 + static_cast<std::uint64_t>(arg[i++] - '0');
        if (smtp::iequals(smtp::trim_blanks(arg.substr(i)), "LAST")) p.asked = Asked::BdatLast;
        p.argument = i > 0 ? std::to_string(size) : "0";
        if ((state.esmtp || state.helo) && !state.extensions.chunking) {
            p.flaw = Flaw::NotOffered;
            notes.push_back(note(NoteKind::Mistake, "BDAT is not offered",
                                 "BDAT belongs to the CHUNKING extension, and this server's EHLO reply did not list it "
                                 "(or you said HELO). Use DATA.",
                                 "RFC 3030 2"));
        }
        notes.push_back(note(NoteKind::Hint, "BDAT counts octets",
                             "The next " + p.argument +
                                 " octets are the chunk, each line's CR LF counted as two; no lone dot ends it. The "
                                 "server answers once it has them all.",
                             "RFC 3030 2"));
        return p;
    }
    if (verb == "RSET") {
        Pending p = argument_not_allowed(Asked::Rset, "RFC 5321 4.1.1.5");
        return p;
    }
    if (verb == "NOOP") return Pending{Asked::Noop};
    if (verb == "HELP") return Pending{Asked::Help};
    if (verb == "VRFY") return Pending{Asked::Vrfy, Flaw::None, safe_text(arg)};
    if (verb == "EXPN") return Pending{Asked::Expn, Flaw::None, safe_text(arg)};
    if (verb == "QUIT") return argument_not_allowed(Asked::Quit, "RFC 5321 4.1.1.10");
    if (verb == "STARTTLS") {
        Pending p = argument_not_allowed(Asked::StartTls, "RFC 3207 4");
        if (state.tls) {
            notes.push_back(note(NoteKind::Mistake, "TLS is already on",
                                 "STARTTLS works once per connection; the server answers 503 or 502.", "RFC 3207 4.2"));
            p.flaw = Flaw::NotOffered;
        } else if (state.esmtp && !state.extensions.starttls) {
            notes.push_back(note(NoteKind::Mistake, "STARTTLS is not offered",
                                 "This server's EHLO reply does not list STARTTLS: it answers 502 or 500.", "RFC 3207 4"));
            p.flaw = Flaw::NotOffered;
        }
        if (!options.can_start_tls) {
            send = false;
            notes.push_back(note(NoteKind::Hint, "The tutor does not start TLS",
                                 "After STARTTLS and its 220, both sides run a TLS handshake, and then you say EHLO "
                                 "again: everything before is forgotten. The tutor speaks plain text only, so it does "
                                 "not send STARTTLS. To try it by hand:\nopenssl s_client -starttls smtp -crlf "
                                 "-connect HOST:PORT",
                                 "RFC 3207 4, 4.2"));
        }
        return p;
    }
    if (verb == "AUTH") {
        Pending p{Asked::Auth};
        if (state.esmtp && !state.extensions.auth) {
            p.flaw = Flaw::NotOffered;
            notes.push_back(note(NoteKind::Mistake, "AUTH is not offered",
                                 "This server's EHLO reply lists no AUTH, so it takes no login here (ehlo answers 502). "
                                 "It is for submission servers, where users send mail to anywhere.",
                                 "RFC 4954 3"));
        } else if (!state.tls) {
            notes.push_back(note(NoteKind::Hint, "AUTH over plain text",
                                 "PLAIN and LOGIN send your password in base64, which anyone on the way can decode: "
                                 "base64 is not encryption. Use them after STARTTLS, or on a line you trust.",
                                 "RFC 4954 4, 14"));
        }
        return p;
    }
    if (smtp::find_command(cmd.verb)) return Pending{Asked::Unknown};  // known, seldom used (TURN, ETRN, ...)

    if (!cmd.verb.empty() && cmd.verb.back() == ':') {
        notes.push_back(note_with_line(NoteKind::Mistake, "A header line outside the message",
                                       "Header fields such as " + safe_text(cmd.verb) +
                                           " belong in the message, and the message comes after DATA and its 354. "
                                           "Here the server reads it as a command it does not know (500).",
                                       "RFC 5321 4.1.1.4", "DATA"));
        return Pending{Asked::Header};
    }
    if (line == ".") {
        notes.push_back(note(NoteKind::Mistake, "A lone dot outside the message",
                             "The lone dot ends a message, but only after DATA and its 354. Here it is an unknown "
                             "command (500).",
                             "RFC 5321 4.1.1.4"));
        return Pending{Asked::Unknown};
    }
    std::string text = "The server knows HELO, EHLO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, HELP and QUIT (and the "
                       "extensions its EHLO lists). It answers 500 to anything else.";
    if (verb == "HELLO" || verb == "HI") text = "The greeting is HELO (one L) or EHLO, followed by your host's name.";
    notes.push_back(note(NoteKind::Mistake, "\"" + safe_text(cmd.verb) + "\" is no SMTP command", std::move(text),
                         "RFC 5321 4.1.1"));
    return Pending{Asked::Unknown};
}

bool check_content(std::string_view line, const DialogState& state, std::vector<Note>& notes) {
    if (line == ".") {
        notes.push_back(note(NoteKind::Hint, "The lone dot ends the message",
                             "A line holding a single dot ends the message. Now the server answers for all of it: "
                             "250 means it has taken the message and is responsible for it.",
                             "RFC 5321 4.1.1.4"));
        return false;
    }
    if (line.size() > kMaxTextLine)
        notes.push_back(note(NoteKind::Mistake, "The line is too long",
                             "A line of a message is at most 1000 octets with its CR LF; ehlo refuses the message "
                             "(554 5.6.0). Break long text into lines.",
                             "RFC 5321 4.5.3.1.6"));
    if (line.size() > 1 && line.front() == '.') {
        if (line[1] == '.')
            notes.push_back(note(NoteKind::Hint, "Dot-stuffing",
                                 "The server takes the first dot away again, so the line arrives with one dot less: "
                                 "this is how a line that starts with a dot is sent.",
                                 "RFC 5321 4.5.2"));
        else
            notes.push_back(note(NoteKind::Mistake, "A line that starts with a dot",
                                 "The server removes the first dot of such a line (it is how a line \".\" inside a "
                                 "message is told from the end): \"" + safe_text(line) + "\" arrives as \"" +
                                     safe_text(line.substr(1)) +
                                     "\". To keep the dot, type it twice. Mail programs do this for you.",
                                 "RFC 5321 4.5.2"));
    }
    const smtp::CommandLine cmd = smtp::split_command_line(line);
    const smtp::CommandSpec* spec = smtp::find_command(cmd.verb);
    const bool command_like =
        spec && spec->verb != smtp::Verb::NotImplemented && cmd.verb.size() >= 4 &&
        (cmd.argument.empty() || spec->verb == smtp::Verb::Mail || spec->verb == smtp::Verb::Rcpt ||
         spec->verb == smtp::Verb::Helo || spec->verb == smtp::Verb::Ehlo);
    if (command_like) {
        notes.push_back(note_with_line(NoteKind::Mistake, "This is part of the message",
                                       "After 354 everything you type is message text, until a line with a single "
                                       "dot. \"" + safe_text(line) + "\" goes into the message; it is no command here.",
                                       "RFC 5321 4.1.1.4", "."));
        return false;
    }
    if (state.in_body) return false;
    if (line.empty()) {
        if (state.content_lines == 0)
            notes.push_back(note(NoteKind::Hint, "A message without a header",
                                 "The empty line comes first, so the message has no header fields: no Subject, no "
                                 "From, no Date. Servers take it; readers show it poorly (RFC 5322 requires From: and "
                                 "Date:).",
                                 "RFC 5322 3.6"));
        return true;
    }
    if ((line.front() == ' ' || line.front() == '\t') && state.content_lines > 0) return false;  // folding, RFC 5322 2.2.3
    // field-name = 1*ftext, printable US-ASCII but ":" (RFC 5322 3.6.8), then the colon.
    const std::size_t colon = line.find(':');
    bool field = colon != std::string_view::npos && colon > 0;
    for (std::size_t i = 0; field && i < colon; ++i) {
        const auto u = static_cast<unsigned char>(line[i]);
        if (u < 33 || u > 126) field = false;
    }
    if (field) return false;
    if (state.content_lines == 0)
        notes.push_back(note_with_line(NoteKind::Mistake, "The message starts without its header",
                                       "A message begins with header fields (\"Name: value\"), then an empty line, "
                                       "then the body. This line is no header field, so readers see a broken header "
                                       "rather than your text. It is sent already: finish with the lone dot and send a "
                                       "better one, or leave with Ctrl-D (without its dot, no message is kept).",
                                       "RFC 5322 2.1, 2.2", "."));
    else
        notes.push_back(note_with_line(NoteKind::Mistake, "The blank line between header and body is missing",
                                       "Header fields come first, one \"Name: value\" per line; then an empty line; "
                                       "then the body. This line is no header field, so a reader sees it as a broken "
                                       "header, not as your text. It is sent already: finish with the lone dot and try "
                                       "again with an empty line after the header.",
                                       "RFC 5322 2.1", "."));
    return true;
}

}  // namespace ehlo::tutor::lessons

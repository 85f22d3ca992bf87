// What a reply means in context: the same 501 says one thing after HELO and another after
// RCPT. One note explains each reply; it is a Mistake note when the reply shows a mistake the
// tutor could not see before the line went out (a relay refusal, a login the server wants),
// and a Reply note otherwise.
#include <string>

#include "smtp/text.hpp"
#include "tutor/lessons.hpp"
#include "tutor/safe_text.hpp"

namespace ehlo::tutor::lessons {

namespace {

bool contains(std::string_view haystack, std::string_view needle) {
    if (needle.size() > haystack.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i)
        if (smtp::iequals(haystack.substr(i, needle.size()), needle)) return true;
    return false;
}

// The reply's text, all lines, for the tests on its words.
std::string all_text(const smtp::Reply& r) {
    std::string s;
    for (const auto& l : r.lines) s += l + " ";
    return s;
}

// "5.7.1" in a 550 or 554, or the server's own word for it.
bool is_relay_refusal(const smtp::Reply& r) {
    return r.permanent() && (r.enhanced == "5.7.1" || contains(all_text(r), "relay"));
}

bool greylisting(const smtp::Reply& r) { return contains(all_text(r), "greylist") || contains(all_text(r), "graylist"); }

bool enhanced_is(const smtp::Reply& r, std::string_view subject_detail) {
    return r.enhanced.size() > 2 && std::string_view(r.enhanced).substr(2) == subject_detail;
}

struct Explainer {
    const Pending& p;
    const smtp::Reply& r;
    const DialogState& s;
    const Options& o;
    std::vector<Note>& notes;
    const std::string said = safe_text(r.lines.empty() ? std::string{} : r.lines.front());

    void reply(std::string title, std::string text, std::string rfc) {
        notes.push_back(note(NoteKind::Reply, std::move(title), std::move(text), std::move(rfc)));
    }
    // A mistake shown by this reply; a Reply note when it was pointed out before sending.
    void mistake(Flaw seen, std::string title, std::string text, std::string rfc) {
        notes.push_back(note(p.flaw == seen && seen != Flaw::None ? NoteKind::Reply : NoteKind::Mistake,
                             std::move(title), std::move(text), std::move(rfc)));
    }
    void generic() {
        const std::string_view meaning = code_meaning(r.code);
        std::string title = meaning.empty() ? "Reply " + std::to_string(r.code) : std::string(meaning);
        std::string text;
        if (r.positive())
            text = r.code >= 300 ? "The server waits for more." : "Done.";
        else if (r.transient())
            text = "Not now: nothing was done, and the same may work later. The server says: \"" + said + "\".";
        else
            text = "Refused. The server says: \"" + said + "\". The same command will fail again; something must "
                   "change first.";
        reply(std::move(title), std::move(text), "RFC 5321 4.2.2, 4.2.3");
    }

    void closing() {
        std::string text;
        if (enhanced_is(r, "7.0") || contains(said, "too many errors"))
            text = "Too many bad commands in one dialog: servers end a session that keeps failing, as a defence "
                   "against clients that guess (ehlo closes after 10 errors by default). Start a new dialog.";
        else if (enhanced_is(r, "4.2") || contains(said, "timeout"))
            text = "You were silent too long. A server waits minutes for the next command (at least 5 by RFC 5321 "
                   "4.5.3.2), but not forever. Start a new dialog.";
        else if (enhanced_is(r, "3.2") || contains(said, "shutting down"))
            text = "The server is stopping. Come back in a while; a mail program would try again later.";
        else
            text = "The server cannot serve you now and ends the connection: \"" + said +
                   "\". It is temporary (4yz): try again later.";
        reply("The server is closing the connection", std::move(text), "RFC 5321 3.8");
    }

    void greeting() {
        if (r.code == 220) {
            std::string text = "Every SMTP server speaks first, with its name (" + s.server_name +
                               "); the client waits for this 220 before it says anything.";
            if (contains(said, "ESMTP")) text += " \"ESMTP\": it knows the extensions, so greet it with EHLO.";
            reply("The server is ready", std::move(text), "RFC 5321 3.1, 4.2");
        } else if (r.code == 554) {
            reply("The server does not want to talk to you",
                  "A 554 greeting means no SMTP service here for this client: it will answer 503 to everything but "
                  "QUIT. Its text may say why: \"" + said + "\".",
                  "RFC 5321 3.1");
        } else {
            generic();
        }
    }

    void hello() {
        const std::string verb = p.asked == Asked::Ehlo ? "EHLO" : "HELO";
        if (r.code == 250) {
            if (p.asked == Asked::Ehlo)
                reply("EHLO accepted: the server lists its extensions",
                      "The first line names the server and repeats the name you gave; each line after it is an "
                      "extension the server offers.",
                      "RFC 5321 4.1.1.1");
            else
                reply("HELO accepted",
                      "The server knows you now. HELO is the old greeting: the reply lists no extensions, and you "
                      "may use none (no SIZE=, no BDAT).",
                      "RFC 5321 4.1.1.1");
        } else if (r.code == 501) {
            if (p.flaw == Flaw::BadDomain)
                mistake(Flaw::BadDomain, verb + " refused: not a host name",
                        "The name after " + verb + " must be a domain (" + o.client_name +
                            ") or an address literal ([192.0.2.1]). Say it again with a proper name.",
                        "RFC 5321 4.1.1.1");
            else
                mistake(Flaw::NoDomain, verb + " refused: the domain is missing",
                        "The server wants to know who is talking: give your host's name after " + verb + " (" +
                            o.client_name + "), or an address literal ([192.0.2.1]). Try again.",
                        "RFC 5321 4.1.1.1");
        } else if (p.asked == Asked::Ehlo && (r.code == 500 || r.code == 502)) {
            reply("This server does not know EHLO",
                  "An old server, without the extensions. Say HELO instead: every server must understand it.",
                  "RFC 5321 4.1.1.1");
        } else {
            generic();
        }
    }

    void path_syntax(const std::string& verb, const std::string& example) {
        switch (p.flaw) {
            case Flaw::NoBrackets:
                mistake(Flaw::NoBrackets, verb + " refused: no angle brackets",
                        "The address goes between < and >: " + example + ". Type it again with the brackets.",
                        "RFC 5321 4.1.2");
                return;
            case Flaw::NoKeyword:
                mistake(Flaw::NoKeyword, verb + " refused: the keyword is wrong",
                        "It is " + example + ": the keyword, a colon, the address in brackets.", "RFC 5321 4.1.2");
                return;
            case Flaw::SpaceAfterColon:
                mistake(Flaw::SpaceAfterColon, verb + " refused: the space after the colon",
                        "This server follows the grammar strictly: nothing between the colon and the bracket. "
                        "Type " + example + ".",
                        "RFC 5321 4.1.2");
                return;
            case Flaw::BadPath:
                mistake(Flaw::BadPath, verb + " refused: the address is not valid",
                        "The server cannot read it as local-part@domain: \"" + said + "\".", "RFC 5321 4.1.2");
                return;
            case Flaw::AfterHelo:
                mistake(Flaw::AfterHelo, "Parameters after HELO",
                        "After HELO a server accepts no parameters; say EHLO to use the extensions.",
                        "RFC 5321 4.1.1.11");
                return;
            default:
                mistake(Flaw::None, verb + " refused: syntax",
                        "The server could not read the command: \"" + said + "\". The form is " + example + ".",
                        "RFC 5321 4.1.2");
        }
    }

    void login_or_tls_required() {
        if (contains(said, "STARTTLS") || (s.extensions.starttls && !s.tls && !contains(said, "auth")))
            mistake(Flaw::None, "Encryption first",
                    "This server wants the dialog in TLS before any mail: STARTTLS, the TLS handshake, then EHLO "
                    "again.",
                    "RFC 3207 4");
        else
            mistake(Flaw::None, "Authentication required",
                    "This server takes mail only from users who log in: AUTH with one of the mechanisms its EHLO "
                    "lists, usually after STARTTLS. A submission server (port 587) answers so; a server that "
                    "receives mail for its own domains does not ask it.",
                    "RFC 4954 6");
    }

    void mail() {
        if (r.code == 250) {
            if (p.argument == "<>")
                reply("Null sender accepted",
                      "The message has no return address: if it cannot be delivered, nobody is told.",
                      "RFC 5321 4.1.1.2, 4.5.5");
            else
                reply("Sender accepted",
                      "The envelope sender is " + p.argument +
                          ": if the message cannot be delivered, the bounce goes there. It need not be the From: "
                          "line that readers see.",
                      "RFC 5321 3.3, 4.1.1.2");
        } else if (r.code == 503) {
            if (p.flaw == Flaw::NestedMail)
                mistake(Flaw::NestedMail, "A transaction is already open",
                        "The server has a sender for this message already. Go on with RCPT TO and DATA, or start "
                        "over with RSET.",
                        "RFC 5321 4.1.1.2, 4.1.4");
            else
                mistake(Flaw::BeforeHello, "MAIL before HELO or EHLO",
                        "Introduce yourself first (EHLO " + o.client_name + "), then MAIL FROM.", "RFC 5321 4.1.4");
        } else if (r.code == 501 || r.code == 553 || (r.code == 550 && p.flaw != Flaw::None)) {
            if (r.code == 553 && enhanced_is(r, "6.7"))
                reply("UTF-8 needs SMTPUTF8", "An address with UTF-8 in it needs the SMTPUTF8 parameter on MAIL FROM.",
                      "RFC 6531 3.4");
            else
                path_syntax("MAIL FROM", mail_line(o.sender));
        } else if (r.code == 530) {
            login_or_tls_required();
        } else if (r.code == 552 || (r.code == 452 && enhanced_is(r, "3.4"))) {
            reply("Too big for this server",
                  "The SIZE= you declared is over the server's limit (the number after SIZE in its EHLO reply).",
                  "RFC 1870 6");
        } else if (r.code == 555) {
            mistake(p.flaw == Flaw::AfterHelo ? Flaw::AfterHelo : Flaw::None, "A parameter the server does not take",
                    "Parameters after the address belong to the extensions that EHLO lists; the server does not "
                    "know this one: \"" + said + "\".",
                    "RFC 5321 4.1.1.11");
        } else if (r.transient() && greylisting(r)) {
            greylisted();
        } else {
            generic();
        }
    }

    void greylisted() {
        reply("Greylisting: come back in a few minutes",
              "The server turns an unknown sender away once and waits for it to try again, as real mail servers do "
              "(much spam software never does). Nothing is wrong; a mail program retries later.",
              "RFC 6647");
    }

    void rcpt() {
        if (r.code == 250 || r.code == 251) {
            reply(r.code == 251 ? "Recipient accepted, to be forwarded" : "Recipient accepted",
                  "The server will deliver the message to " + p.argument +
                      ". One RCPT TO per recipient: add more, or go on with DATA.",
                  r.code == 251 ? "RFC 5321 3.4, 4.1.1.3" : "RFC 5321 4.1.1.3");
        } else if (r.code == 503) {
            mistake(Flaw::RcptBeforeMail, "RCPT before MAIL",
                    "Recipients belong to a mail transaction, and MAIL FROM opens it. Name the sender first, then "
                    "the recipients.",
                    "RFC 5321 3.3, 4.1.4");
        } else if (is_relay_refusal(r)) {
            const std::size_t at = p.argument.rfind('@');
            const std::string domain = at == std::string::npos || p.argument.size() < at + 3
                                           ? std::string("that domain")
                                           : p.argument.substr(at + 1, p.argument.size() - at - 2);
            mistake(Flaw::None, "Relaying refused",
                    "This server does not receive mail for " + domain +
                        ", and it does not pass mail on for you. A server relays only for its own users (its trusted "
                        "networks, or after AUTH); from anyone else it takes mail only for the domains it serves. "
                        "Otherwise it would be an open relay, carrying anybody's spam. Send to an address it serves, "
                        "or log in on a server that lets you.",
                    "RFC 5321 3.6");
        } else if (r.code == 530) {
            login_or_tls_required();
        } else if (r.code == 452 || (r.code == 552 && !enhanced_is(r, "2.2"))) {
            if (enhanced_is(r, "5.3") || contains(all_text(r), "recipients") || r.code == 552)
                reply("Enough recipients for one message",
                      "The server takes no more recipients in this transaction. The ones accepted stay: send DATA "
                      "now, then the others in a new transaction. (A 552 here, from RFC 821's days, counts as "
                      "temporary too.)",
                      "RFC 5321 4.5.3.1.10");
            else
                reply("The server is short of storage",
                      "It cannot take this recipient now; try again later.", "RFC 5321 4.2.2");
        } else if (r.code == 550 && (enhanced_is(r, "1.1") || contains(said, "unknown") || contains(said, "no such"))) {
            reply("No such mailbox",
                  "The server has no mailbox " + p.argument + ". Check the spelling of the address; the other "
                  "recipients are not affected.",
                  "RFC 5321 4.1.1.3, RFC 3463 3.2");
        } else if (r.code == 501 || r.code == 553 || r.code == 555) {
            path_syntax("RCPT TO", rcpt_line(o.recipient));
        } else if (r.transient() && greylisting(r)) {
            greylisted();
        } else {
            generic();
        }
    }

    void data() {
        if (r.code == 354) {
            reply("Go ahead: type the message",
                  "Everything you type now is the message: header fields (Subject: ...), an empty line, then the "
                  "body. A line with a single dot ends it; the server answers only then.",
                  "RFC 5321 3.3, 4.1.1.4");
        } else if (r.code == 503 || r.code == 554) {
            if (p.flaw == Flaw::DataBeforeMail || (p.flaw == Flaw::None && s.phase < Phase::Rcpt))
                mistake(Flaw::DataBeforeMail, "DATA before MAIL and RCPT",
                        "A message needs its envelope first: MAIL FROM, then RCPT TO for each recipient, then DATA.",
                        "RFC 5321 3.3, 4.1.4");
            else if (p.flaw == Flaw::DataBeforeRcpt || s.recipients.empty())
                mistake(Flaw::DataBeforeRcpt, "DATA without an accepted recipient",
                        "No RCPT TO was accepted in this transaction, so the message would go to nobody. Name a "
                        "recipient the server accepts, then DATA.",
                        "RFC 5321 3.3");
            else
                generic();
        } else if (r.code == 501) {
            mistake(Flaw::Argument, "DATA takes no argument", "Type DATA alone.", "RFC 5321 4.1.1.4");
        } else {
            generic();
        }
    }

    void message_end() {
        if (r.code == 250) {
            reply("Message accepted",
                  "The server has the message and is now responsible for it: it delivers it, or tells the sender "
                  "why not. Send another (MAIL FROM), or QUIT.",
                  "RFC 5321 4.1.1.4, 4.2.5, 6.1");
        } else if (r.code == 554 && (enhanced_is(r, "6.0") || contains(said, "bare"))) {
            if (contains(said, "too long"))
                mistake(Flaw::None, "Message refused: a line is too long",
                        "A line of the message had more than 1000 octets with its CR LF. Break long text into lines.",
                        "RFC 5321 4.5.3.1.6");
            else
                mistake(Flaw::None, "Message refused: a bare CR or LF",
                        "Lines in SMTP end with CR LF, both octets. The message had a LF (or CR) alone: ehlo refuses "
                        "that (554 5.6.0) rather than guess, because a lone LF is how \"SMTP smuggling\" hides a "
                        "second message inside the first. Send every line ending in CR LF.",
                        "RFC 5321 2.3.8");
        } else if (r.code == 552 || (r.code == 554 && enhanced_is(r, "3.4"))) {
            reply("Message too big", "The message is larger than the server takes (the number after SIZE in its "
                                     "EHLO reply). Send a smaller one.",
                  "RFC 1870 6, RFC 5321 4.5.3.1.7");
        } else if (r.transient()) {
            reply("Not taken this time",
                  "The server did not keep the message: \"" + said +
                      "\". A mail program sends it again later; you may try again.",
                  "RFC 5321 4.2.5");
        } else {
            reply("Message refused",
                  "The server will not take this message: \"" + said + "\". The transaction is over; MAIL FROM "
                  "starts another.",
                  "RFC 5321 4.2.5");
        }
    }

    void other() {
        switch (p.asked) {
            case Asked::Rset:
                if (r.code == 250)
                    return reply("Transaction cleared",
                                 "Sender and recipients are forgotten; you are still introduced, so MAIL FROM starts "
                                 "a new transaction.",
                                 "RFC 5321 4.1.1.5");
                break;
            case Asked::Noop:
                if (r.code == 250)
                    return reply("Nothing done, as asked", "NOOP only checks that the server is there and listening.",
                                 "RFC 5321 4.1.1.9");
                break;
            case Asked::Help:
                if (r.code == 211 || r.code == 214)
                    return reply("Help, for people", "The text is for a person; mail programs do not read it.",
                                 "RFC 5321 4.1.1.8");
                break;
            case Asked::Vrfy:
                if (r.code == 252)
                    return reply("The server will not say",
                                 "252: it neither confirms nor denies that the address exists (telling would help "
                                 "spammers collect addresses), but it would take mail for it.",
                                 "RFC 5321 3.5.3");
                if (r.code == 250 || r.code == 251)
                    return reply("The address exists", "The server knows this mailbox.", "RFC 5321 3.5.3, 4.1.1.6");
                break;
            case Asked::Expn:
                if (r.code == 502 || r.code == 550 || r.code == 252)
                    return reply("Lists stay private",
                                 "Most servers do not show who is on a mailing list: it would hand the addresses to "
                                 "anyone who asks.",
                                 "RFC 5321 3.5, 7.3");
                break;
            case Asked::Quit:
                if (r.code == 221)
                    return reply("Goodbye", "The server closes the connection. That was the whole dialog.",
                                 "RFC 5321 3.8, 4.1.1.10");
                break;
            case Asked::StartTls:
                if (r.code == 220)
                    return reply("Ready for the TLS handshake",
                                 "Now both sides negotiate TLS. Then everything said before is forgotten: say EHLO "
                                 "again.",
                                 "RFC 3207 4.2");
                if (r.code == 454)
                    return reply("TLS not available now", "The server cannot start TLS at the moment: \"" + said +
                                                              "\". Go on in plain text, or try later.",
                                 "RFC 3207 4");
                break;
            case Asked::Auth:
            case Asked::AuthAnswer:
                if (r.code == 334)
                    return reply("The server waits for your login",
                                 "334 carries a base64 challenge (for LOGIN, \"VXNlcm5hbWU6\" is \"Username:\"). "
                                 "Answer with one line of base64, or * to cancel.",
                                 "RFC 4954 4");
                if (r.code == 235)
                    return reply("Logged in",
                                 "The server knows who you are now; it may let you send to other domains as well.",
                                 "RFC 4954 6");
                if (r.code == 535)
                    return mistake(Flaw::None, "Wrong user name or password",
                                   "The server did not accept the credentials. PLAIN is base64 of "
                                   "\"\\0user\\0password\".",
                                   "RFC 4954 6");
                if (r.code == 504)
                    return reply("Unknown mechanism", "Use one of the mechanisms listed after AUTH in the EHLO reply.",
                                 "RFC 4954 4");
                break;
            case Asked::Empty:
                if (r.permanent()) return reply("An empty line is no command", "Type a command.", "RFC 5321 4.1.1");
                break;
            case Asked::Header:
                if (r.permanent())
                    return reply("A header line outside the message",
                                 "The server read it as a command. Header lines go after DATA and its 354.",
                                 "RFC 5321 4.1.1.4");
                break;
            case Asked::Unknown:
                if (r.code == 500)
                    return reply("Unknown command",
                                 "The server does not know this command. The dialog goes on: type another.",
                                 "RFC 5321 4.2.2");
                if (r.code == 502)
                    return reply("Not offered here",
                                 "The command exists in SMTP, but this server does not offer it.", "RFC 5321 4.2.4");
                break;
            default:
                break;
        }
        if (r.code == 502) return reply("Not offered here", "This server does not offer the command.", "RFC 5321 4.2.4");
        generic();
    }
};

}  // namespace

void explain_reply(const Pending& p, const smtp::Reply& r, const DialogState& s, const Options& o,
                   std::vector<Note>& notes) {
    Explainer e{p, r, s, o, notes};
    if (r.code == 421) return e.closing();
    switch (p.asked) {
        case Asked::Connect: return e.greeting();
        case Asked::Helo:
        case Asked::Ehlo: return e.hello();
        case Asked::Mail: return e.mail();
        case Asked::Rcpt: return e.rcpt();
        case Asked::Data: return e.data();
        case Asked::Dot:
        case Asked::BdatLast: return e.message_end();
        case Asked::Bdat:
            if (r.code == 250)
                return e.reply("Chunk received", "The server has this chunk; send the next BDAT, or BDAT n LAST.",
                               "RFC 3030 2");
            return e.generic();
        default: return e.other();
    }
}

std::string queue_id(const smtp::Reply& r) {
    for (const auto& line : r.lines) {
        std::string_view rest;
        for (std::string_view marker : {"queued as ", "id="}) {
            for (std::size_t i = 0; i + marker.size() <= line.size(); ++i) {
                if (smtp::iequals(std::string_view(line).substr(i, marker.size()), marker)) {
                    rest = std::string_view(line).substr(i + marker.size());
                    break;
                }
            }
            if (!rest.empty()) break;
        }
        std::size_t n = 0;
        while (n < rest.size() && n < 64 && (smtp::is_let_dig(rest[n]) || rest[n] == '-' || rest[n] == '.' || rest[n] == '_'))
            ++n;
        while (n > 0 && rest[n - 1] == '.') --n;  // "queued as ABC." ends a sentence
        if (n > 0) return std::string(rest.substr(0, n));
    }
    return {};
}

Note explain_extensions(const smtp::Reply& r, Extensions& x) {
    x = Extensions{};
    std::string text;
    for (std::size_t i = 1; i < r.lines.size(); ++i) {
        const std::string_view line = r.lines[i];
        const std::size_t sp = line.find(' ');
        const std::string_view keyword = line.substr(0, sp);
        const std::string_view params = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
        const auto is = [&](std::string_view k) { return smtp::iequals(keyword, k); };
        if (is("PIPELINING")) x.pipelining = true;
        if (is("SIZE")) {
            x.size = true;
            std::uint64_t n = 0;
            for (char c : params.substr(0, 18)) {
                if (!smtp::is_digit(c)) break;
                n = n * 10 + static_cast<std::uint64_t>(c - '0');
            }
            x.max_size = n;
        }
        if (is("8BITMIME")) x.eight_bit_mime = true;
        if (is("SMTPUTF8")) x.smtputf8 = true;
        if (is("CHUNKING")) x.chunking = true;
        if (is("DSN")) x.dsn = true;
        if (is("STARTTLS")) x.starttls = true;
        if (is("ENHANCEDSTATUSCODES")) x.enhanced_status_codes = true;
        if (is("AUTH")) {
            x.auth = true;
            x.auth_mechanisms = safe_text(params);
        }
        std::string words = safe_text(extension_words(keyword, params));
        if (words.empty()) words = safe_text(line) + ": an extension the tutor does not know.";
        if (!text.empty()) text += "\n";
        text += words;
    }
    if (text.empty()) text = "None: the server offers plain SMTP only.";
    return note(NoteKind::Hint, "What this server offers", std::move(text), "RFC 5321 4.1.1.1");
}

}  // namespace ehlo::tutor::lessons

// What to type next: one suggestion for the state the dialog is in, with an example line, as
// the walkthrough's applet gave it. After a refusal the suggestion says how to go on from it.
#include "tutor/lessons.hpp"

namespace ehlo::tutor::lessons {

std::string mail_line(std::string_view address) { return "MAIL FROM:<" + std::string(address) + ">"; }
std::string rcpt_line(std::string_view address) { return "RCPT TO:<" + std::string(address) + ">"; }

namespace {

Note next(std::string title, std::string text, std::string rfc, std::string line) {
    return note_with_line(NoteKind::Suggestion, std::move(title), std::move(text), std::move(rfc), std::move(line));
}

Note wait(std::string title, std::string text) { return note(NoteKind::Suggestion, std::move(title), std::move(text)); }

}  // namespace

Note suggest(const DialogState& s, const Options& o, Asked last, int code) {
    const std::string ehlo = "EHLO " + o.client_name;
    if (s.quit_sent && s.phase != Phase::Closed) return wait("Wait for the goodbye", "The server answers QUIT with 221.");
    switch (s.phase) {
        case Phase::Greeting:
            return wait("Wait for the greeting", "The server speaks first.");
        case Phase::Hello:
            if (last == Asked::Connect && code == 554)
                return next("Leave", "This server serves you nothing; QUIT ends the dialog politely.", "RFC 5321 3.1",
                            "QUIT");
            if (last == Asked::Ehlo && (code == 500 || code == 502))
                return next("Say HELO", "The old greeting, which every server knows.", "RFC 5321 4.1.1.1",
                            "HELO " + o.client_name);
            return next("Introduce yourself",
                        "Say EHLO and your host's name; the server answers with what it offers. (HELO is the older "
                        "form, without extensions.)",
                        "RFC 5321 4.1.1.1", ehlo);
        case Phase::Mail:
            if (code == 530 && s.extensions.auth && (s.tls || !s.extensions.starttls))
                return next("Log in",
                            "AUTH PLAIN and the base64 of \"\\0user\\0password\" (printf '\\0me\\0secret' | base64 "
                            "makes it).",
                            "RFC 4954 4", "AUTH PLAIN AG1lAHNlY3JldA==");
            if (code == 530 && s.extensions.starttls && !s.tls) {
                if (o.can_start_tls) return next("Start TLS", "Encrypt the dialog first.", "RFC 3207 4", "STARTTLS");
                return next("Leave", "This server wants TLS first, which the tutor does not do.", "RFC 3207 4", "QUIT");
            }
            if (!s.queue_ids.empty() && (last == Asked::Dot || last == Asked::BdatLast))
                return next("Send another message, or leave",
                            "MAIL FROM starts the next message in the same dialog; QUIT ends the dialog.",
                            "RFC 5321 4.1.1.10", "QUIT");
            return next("Name the sender",
                        "MAIL FROM opens a transaction and gives the envelope sender: where a bounce would go.",
                        "RFC 5321 4.1.1.2", mail_line(o.sender));
        case Phase::Rcpt:
            if (last == Asked::Mail && code == 503)
                return next("Start over", "RSET forgets the open transaction; then MAIL FROM again.",
                            "RFC 5321 4.1.1.5", "RSET");
            if (s.refused_recipients > 0)
                return next("Try another recipient, or start over",
                            "RCPT TO with an address the server takes; or RSET to drop this transaction.",
                            "RFC 5321 4.1.1.3", rcpt_line(o.recipient));
            return next("Name a recipient", "RCPT TO names one recipient; repeat it for each.", "RFC 5321 4.1.1.3",
                        rcpt_line(o.recipient));
        case Phase::Data:
            if (last == Asked::Rcpt && (code == 452 || code == 552))
                return next("Send the message now",
                            "The server takes no more recipients in this message; send the rest in another one.",
                            "RFC 5321 4.5.3.1.10", "DATA");
            return next("Start the message",
                        "DATA says the message comes next. (Another RCPT TO would add a recipient.)",
                        "RFC 5321 4.1.1.4", "DATA");
        case Phase::Content:
            if (s.content_lines == 0)
                return next("Type the header",
                            "Header fields first, one per line, \"Name: value\". Subject: is the one every reader "
                            "shows; From:, To: and Date: belong there too.",
                            "RFC 5322 2.2, 3.6", "Subject: " + o.subject);
            if (!s.in_body)
                return next("An empty line, then the body",
                            "An empty line ends the header; your text follows it.", "RFC 5322 2.1", "");
            return next("Your text, then the lone dot",
                        "Type the body, as many lines as you like. A line with a single dot ends the message.",
                        "RFC 5321 4.1.1.4", ".");
        case Phase::Closed:
            return wait("The dialog is over", "The connection is closed. Start a new dialog to go on.");
    }
    return wait("", "");
}

}  // namespace ehlo::tutor::lessons

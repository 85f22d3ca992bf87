// The tutor's state machine: which reply answers which line, and what the dialog's state is
// after each. It follows the server's state (RFC 5321 3.3, 4.1.4) closely enough to explain
// it, and never enforces it: the server has the last word, and the tutor explains that word.
#include "tutor/tutor.hpp"

#include "smtp/text.hpp"
#include "tutor/lessons.hpp"
#include "tutor/safe_text.hpp"

namespace ehlo::tutor {

using namespace lessons;

std::string_view kind_name(NoteKind kind) {
    switch (kind) {
        case NoteKind::Reply: return "reply";
        case NoteKind::Code: return "code";
        case NoteKind::Mistake: return "mistake";
        case NoteKind::Hint: return "hint";
        case NoteKind::Suggestion: return "suggestion";
        case NoteKind::Result: return "result";
    }
    return "hint";
}

namespace lessons {

Note note(NoteKind kind, std::string title, std::string text, std::string rfc) {
    return Note{kind, std::move(title), std::move(text), std::move(rfc), std::nullopt};
}

Note note_with_line(NoteKind kind, std::string title, std::string text, std::string rfc, std::string line) {
    return Note{kind, std::move(title), std::move(text), std::move(rfc), std::move(line)};
}

}  // namespace lessons

namespace {

std::size_t count_mistakes(const std::vector<Note>& notes) {
    std::size_t n = 0;
    for (const auto& note : notes) n += note.kind == NoteKind::Mistake;
    return n;
}

void clear_transaction(DialogState& s) {
    s.sender.clear();
    s.recipients.clear();
    s.refused_recipients = 0;
}

}  // namespace

Tutor::Tutor(Options options) : options_(std::move(options)) { pending_.push_back(Pending{Asked::Connect}); }

Tutor::Typed Tutor::typed(std::string_view line) {
    Typed t;
    if (state_.quit_sent) {
        t.send = false;
        t.notes.push_back(note(NoteKind::Mistake, "Typing after QUIT",
                               std::string("QUIT ends the dialog: the server answers 221, closes the connection and "
                                           "reads nothing after it. ") +
                                   (state_.phase == Phase::Closed ? "It has hung up; start a new dialog to go on."
                                                                  : "This line is not sent."),
                               "RFC 5321 4.1.1.10"));
        ++state_.mistakes;
        return t;
    }
    if (state_.phase == Phase::Closed) {
        t.send = false;
        t.notes.push_back(note(NoteKind::Mistake, "The connection is closed",
                               "The server has hung up; it reads nothing more. Start a new dialog to go on.",
                               "RFC 5321 3.8"));
        ++state_.mistakes;
        return t;
    }
    // RFC 5321 2.3.8: CR and LF only as the CRLF that ends a line. A line cannot be sent with one
    // inside it: a lone LF is what SMTP smuggling is made of, and ehlo refuses it (554 5.6.0).
    if (line.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
        t.send = false;
        t.notes.push_back(note(NoteKind::Mistake, "A bare CR, LF or NUL in the line",
                               "SMTP lines end with CR LF and hold neither octet alone, nor NUL. A message with a bare "
                               "LF is refused by ehlo (554 5.6.0): a lone LF is how \"SMTP smuggling\" hides a second "
                               "message inside the first. The line is not sent.",
                               "RFC 5321 2.3.8"));
        ++state_.mistakes;
        return t;
    }
    if (state_.phase == Phase::Greeting) {
        // RFC 5321 3.1: the server speaks first. Spam software often does not wait, so servers
        // watch for it (Postfix's postscreen hangs up on such "early talkers").
        t.notes.push_back(note(NoteKind::Mistake, "Talking before the greeting",
                               "The server speaks first, with its 220. A client that talks before it looks like "
                               "spam software, and many servers hang up on it. Wait for the greeting.",
                               "RFC 5321 3.1"));
        ++state_.mistakes;
    }
    if (bdat_left_ > 0) {
        // RFC 3030 2: the chunk is counted octets, not lines; each line sent adds its CRLF.
        const std::size_t n = line.size() + 2;
        if (n > bdat_left_)
            t.notes.push_back(note(NoteKind::Mistake, "Longer than the chunk",
                                   "Only " + std::to_string(bdat_left_) +
                                       " octets of the chunk were left; the rest of this line reaches the server as "
                                       "a command.",
                                   "RFC 3030 2"));
        bdat_left_ = n >= bdat_left_ ? 0 : bdat_left_ - n;
        return t;
    }
    if (in_sasl_) {
        in_sasl_ = false;
        pending_.push_back(Pending{Asked::AuthAnswer});
        return t;
    }
    if (state_.phase == Phase::Content && pending_.empty()) return typed_content(line);

    bool send = true;
    Pending p = check_command(line, state_, options_, t.notes, send);
    state_.mistakes += count_mistakes(t.notes);
    t.send = send;
    if (!send) return t;
    if (p.asked == Asked::Quit) state_.quit_sent = true;
    if (p.asked == Asked::Bdat || p.asked == Asked::BdatLast) {
        std::size_t size = 0;
        for (char c : p.argument) size = size * 10 + static_cast<std::size_t>(c - '0');
        bdat_left_ = size;
    }
    pending_.push_back(std::move(p));
    return t;
}

Tutor::Typed Tutor::typed_content(std::string_view line) {
    Typed t;
    const bool header_ends = check_content(line, state_, t.notes);
    state_.mistakes += count_mistakes(t.notes);
    if (line == ".") {
        // The transaction ends with the dot, whatever the reply (RFC 5321 4.1.1.4): lines typed
        // from here on are commands again.
        pending_.push_back(Pending{Asked::Dot});
        state_.phase = Phase::Mail;
        return t;
    }
    ++state_.content_lines;
    if (!state_.in_body) {
        if (header_ends)
            state_.in_body = true;  // a line that is no header field is said to be so once
        else if (smtp::istarts_with(line, "Subject:"))
            state_.subject_given = true;
    }
    return t;
}

std::vector<Note> Tutor::replied(const smtp::Reply& reply) {
    std::vector<Note> notes;
    if (pending_.empty() && reply.code != 421) {
        notes.push_back(note(NoteKind::Mistake, "A reply nobody asked for",
                             "Every command gets exactly one reply, and this one answers none: the server is out "
                             "of step with the dialog.",
                             "RFC 5321 4.2"));
        notes.push_back(explain_code(reply));
        return notes;
    }
    Pending p = pending_.empty() ? Pending{Asked::Unknown} : std::move(pending_.front());
    if (!pending_.empty()) pending_.pop_front();
    if (p.asked == Asked::Connect && reply.code == 220) {
        const std::string_view first = reply.lines.empty() ? std::string_view{} : std::string_view(reply.lines.front());
        state_.server_name = safe_text(first.substr(0, first.find(' ')));
        const std::size_t esmtp = first.find(" ESMTP ");
        state_.server_is_ehlo = esmtp != std::string_view::npos && smtp::istarts_with(first.substr(esmtp + 7), "ehlo");
    }
    explain_reply(p, reply, state_, options_, notes);
    notes.push_back(explain_code(reply));
    after_reply(p, reply, notes);
    last_asked_ = p.asked;
    last_code_ = reply.code;
    return notes;
}

void Tutor::after_reply(const Pending& p, const smtp::Reply& r, std::vector<Note>& notes) {
    DialogState& s = state_;
    if (r.code == 421 || (p.asked == Asked::Quit && r.code == 221)) {
        s.phase = Phase::Closed;
        pending_.clear();
        return;
    }
    switch (p.asked) {
        case Asked::Connect:
            s.phase = Phase::Hello;
            break;
        case Asked::Helo:
        case Asked::Ehlo:
            if (r.code != 250) break;
            // RFC 5321 4.1.4: a greeting also clears any transaction.
            clear_transaction(s);
            s.phase = Phase::Mail;
            s.esmtp = p.asked == Asked::Ehlo;
            s.helo = p.asked == Asked::Helo;
            s.extensions = Extensions{};
            if (s.esmtp) notes.push_back(explain_extensions(r, s.extensions));
            break;
        case Asked::Mail:
            if (r.code != 250) break;
            s.sender = p.argument;
            s.phase = Phase::Rcpt;
            break;
        case Asked::Rcpt:
            if (r.code == 250 || r.code == 251) {
                s.recipients.push_back(p.argument);
                s.phase = Phase::Data;
            } else if (r.code != 503 && s.phase >= Phase::Rcpt) {
                ++s.refused_recipients;
            }
            break;
        case Asked::Data:
            if (r.code != 354) break;
            s.phase = Phase::Content;
            s.content_lines = 0;
            s.in_body = false;
            s.subject_given = false;
            break;
        case Asked::Dot:
        case Asked::BdatLast:
            clear_transaction(s);
            if (s.phase == Phase::Rcpt || s.phase == Phase::Data) s.phase = Phase::Mail;
            if (r.code == 250) {
                const std::string id = safe_text(queue_id(r));
                if (id.empty()) break;
                s.queue_ids.push_back(id);
                if (s.server_is_ehlo)
                    notes.push_back(note_with_line(
                        NoteKind::Result, "Queued as " + id,
                        id + " is the message's name in the server's queue, its log and the Received: line. To see "
                             "where the message went (delivered, deferred or bounced), and why:",
                        "", "ehlo trace " + id));
                else
                    notes.push_back(note(NoteKind::Result, "Queued as " + id,
                                         id + " is the message's name at this server: its log knows it by this id, "
                                              "so quote it when you ask the server's administrator where it went."));
            }
            break;
        case Asked::Rset:
            if (r.code == 250 && s.phase >= Phase::Mail) {
                clear_transaction(s);
                s.phase = Phase::Mail;
            }
            break;
        case Asked::StartTls:
            // RFC 3207 4.2: after the handshake the client knows nothing of the server; EHLO again.
            // The caller runs the handshake, or closes the connection.
            if (r.code != 220) break;
            clear_transaction(s);
            s.tls = true;
            s.esmtp = false;
            s.helo = false;
            s.extensions = Extensions{};
            s.phase = Phase::Hello;
            break;
        case Asked::Auth:
        case Asked::AuthAnswer:
            in_sasl_ = r.code == 334;
            if (r.code == 235) s.authenticated = true;
            break;
        default:
            break;
    }
}

std::vector<Note> Tutor::closed(std::string_view why) {
    std::vector<Note> notes;
    if (state_.phase == Phase::Closed) return notes;
    const bool message_open = state_.phase == Phase::Content && pending_.empty();
    bool dot_unanswered = false;
    for (const auto& p : pending_) dot_unanswered |= p.asked == Asked::Dot || p.asked == Asked::BdatLast;
    std::string text = "The connection ended: " + safe_text(why) + ".";
    if (dot_unanswered)
        text += " The message's dot was sent, but no reply came: the server may or may not have kept it, so a mail "
                "program sends it again (a duplicate is better than a loss).";
    else if (message_open)
        text += " The message was not finished: without its lone dot and the server's 250, nothing is kept.";
    else if (!state_.quit_sent)
        text += " A server should close only after QUIT, or after saying 421 first.";
    notes.push_back(note(NoteKind::Reply, "The connection is closed", std::move(text),
                         dot_unanswered ? "RFC 5321 4.1.1.4, 6.1" : "RFC 5321 3.8"));
    state_.phase = Phase::Closed;
    pending_.clear();
    bdat_left_ = 0;
    in_sasl_ = false;
    return notes;
}

void Tutor::assume_greeted(bool introduced) {
    if (state_.phase != Phase::Greeting) return;
    pending_.clear();
    state_.phase = introduced ? Phase::Mail : Phase::Hello;
}

Note Tutor::suggestion() const { return suggest(state_, options_, last_asked_, last_code_); }

}  // namespace ehlo::tutor

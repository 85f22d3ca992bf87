// The SMTP tutor: a sans-I/O teacher that follows a dialog as it happens and explains it.
// Feed it each line the person types and each reply the server sends; it keeps the dialog's
// state and answers with notes (note.hpp): what each reply means (its class, its enhanced
// code, the RFC section, what to do next), the classic mistakes, before the line goes out or
// once the server has answered, what to type next, and the queue id at the end.
//
// It knows no sockets, clocks or files: `ehlo tutor` drives it over a blocking socket, the
// console's "Talk SMTP" page over the page's connection, `ehlo tutor --explain` from a pasted
// transcript (transcript.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.hpp"
#include "tutor/note.hpp"

namespace ehlo::tutor {

struct Options {
    // The example lines of suggestions: the person replaces them with their own.
    std::string client_name = "client.example";  // EHLO client.example
    std::string sender = "me@example.org";       // MAIL FROM:<me@example.org>
    std::string recipient = "alice@localhost";   // RCPT TO:<alice@localhost>
    std::string subject = "hello";               // Subject: hello
    // The caller can run a TLS handshake after STARTTLS' 220 (or, for a transcript, the dialog
    // went on in TLS): the tutor then takes TLS as started. Without it, STARTTLS is explained
    // and not sent, since the dialog would be stuck after the 220.
    bool can_start_tls = false;
};

enum class Phase : std::uint8_t {
    Greeting,  // connected; the server speaks first (RFC 5321 3.1)
    Hello,     // greeted: EHLO or HELO next (RFC 5321 4.1.1.1)
    Mail,      // introduced: MAIL FROM next, or QUIT (RFC 5321 3.3)
    Rcpt,      // sender accepted: RCPT TO next
    Data,      // a recipient accepted: more RCPT TO, or DATA
    Content,   // 354 received: the message, line by line, until the lone dot (RFC 5321 4.1.1.4)
    Closed,    // 221, 421 or the connection ended
};

// What the server offered in its EHLO reply (RFC 5321 4.1.1.1).
struct Extensions {
    bool pipelining = false, size = false, eight_bit_mime = false, smtputf8 = false, chunking = false,
         dsn = false, starttls = false, enhanced_status_codes = false, auth = false;
    std::uint64_t max_size = 0;              // SIZE's number; 0 = none given (RFC 1870)
    std::string auth_mechanisms;             // "PLAIN LOGIN", as offered (safe_text)
};

// The dialog so far, as the tutor understood it (read-only for callers).
struct DialogState {
    Phase phase = Phase::Greeting;
    std::string server_name;           // the first word of the 220 greeting (safe_text)
    bool server_is_ehlo = false;       // the greeting says "ESMTP ehlo": `ehlo trace` applies
    bool esmtp = false;                // EHLO was accepted
    bool helo = false;                 // HELO was accepted: no extensions at all
    Extensions extensions;
    bool tls = false;                  // STARTTLS done
    bool authenticated = false;        // 235 to AUTH (RFC 4954 6)
    std::string sender;                // the accepted reverse-path, "<...>"
    std::vector<std::string> recipients;  // accepted forward-paths, "<...>"
    std::size_t refused_recipients = 0;
    // Within the message (Phase::Content):
    std::size_t content_lines = 0;
    bool in_body = false;              // the blank line after the header section was typed
    bool subject_given = false;
    bool quit_sent = false;
    std::vector<std::string> queue_ids;  // one per message the server queued in this dialog
    std::size_t mistakes = 0;            // Mistake notes given about the person's lines
};

class Tutor {
public:
    explicit Tutor(Options options = {});

    // A line the person typed, without its line ending, before it is sent. The notes say what
    // is wrong with it or worth knowing. `send` is false for a line that must not go out (a
    // bare CR or LF inside it, anything after QUIT, STARTTLS without TLS); the dialog is then
    // unchanged. Otherwise the line counts as sent: the caller sends it with CRLF.
    struct Typed {
        std::vector<Note> notes;
        bool send = true;
    };
    Typed typed(std::string_view line);

    // A complete reply of the server (server_reader.hpp assembles them): its explanation,
    // the code decoded, mistakes it reveals, and at the end the queue id.
    std::vector<Note> replied(const smtp::Reply& reply);

    // The connection ended (the server closed it, or a read failed or timed out); `why` is
    // the caller's words for it ("the server closed the connection").
    std::vector<Note> closed(std::string_view why);

    // The dialog is joined after the greeting (a transcript that starts with the client), and
    // after HELO or EHLO too when `introduced` (it starts with MAIL, say).
    void assume_greeted(bool introduced);

    // What to type next, for the state the dialog is in now.
    Note suggestion() const;

    // Sent commands are waiting for their replies (after the lone dot: the message's reply;
    // after BDAT: once the whole chunk is sent).
    bool awaiting_reply() const { return !pending_.empty() && bdat_left_ == 0; }
    const DialogState& state() const { return state_; }

    // What a sent line asked for, so that its reply is read in context. Public for the
    // implementation files; callers have no use for it.
    enum class Asked : std::uint8_t {
        Connect, Helo, Ehlo, Mail, Rcpt, Data, Dot, Bdat, BdatLast, Rset, Noop, Help, Vrfy, Expn, Quit,
        StartTls, Auth, AuthAnswer, Empty, Header, Unknown,
    };
    // A flaw seen in a line before it went out; its reply is explained in its light.
    enum class Flaw : std::uint8_t {
        None, NoDomain, BadDomain, NoKeyword, NoBrackets, SpaceAfterColon, BadPath, BeforeHello,
        NestedMail, RcptBeforeMail, DataBeforeMail, DataBeforeRcpt, Argument, NotOffered, AfterHelo,
    };
    struct Pending {
        Asked asked;
        Flaw flaw;
        std::string argument;  // the path or name, through safe_text

        Pending(Asked a, Flaw f = Flaw::None, std::string arg = {}) : asked(a), flaw(f), argument(std::move(arg)) {}
    };

private:
    Typed typed_content(std::string_view line);
    void after_reply(const Pending& p, const smtp::Reply& r, std::vector<Note>& notes);

    Options options_;
    DialogState state_;
    std::deque<Pending> pending_;
    Asked last_asked_ = Asked::Connect;  // what the last reply answered, and its code: the
    int last_code_ = 0;                  // suggestion after a refusal says how to go on
    std::size_t bdat_left_ = 0;  // octets of a BDAT chunk still to come (RFC 3030 2)
    bool in_sasl_ = false;       // 334 received: the next line is an AUTH answer (RFC 4954 4)
};

}  // namespace ehlo::tutor

// The SMTP server protocol engine: bytes in, replies out, decisions asked of a host.
//
// No sockets, clocks or files: the network layer feeds received bytes to receive(), writes what
// take_output() returns, and closes the connection when wants_close() says so. Decisions that
// belong to policy and the queue are asked of a SessionHost. Unit tests and the fuzzer drive
// this class directly.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "smtp/envelope.hpp"
#include "smtp/reply.hpp"

namespace ehlo::smtp {

// RFC 5321 4.5.3.1: line limits, and the recipient buffer of 4.5.3.1.8.
inline constexpr std::size_t kMaxCommandLine = 512;   // including CRLF
// RFC 5321 4.5.3.1.4 lets service extensions raise the command-line limit; each adds the
// longest form of its parameter, leading SP included (see command_line_limit()).
inline constexpr std::size_t kSizeParamLength = 26;          // RFC 1870 3: " SIZE=" and 20 digits
inline constexpr std::size_t kBodyParamLength = 16;          // " BODY=BINARYMIME" (RFC 6152 2, RFC 3030 3)
inline constexpr std::size_t kSmtpUtf8ParamLength = 10;      // RFC 6531 3.4
inline constexpr std::size_t kRetParamLength = 9;            // " RET=HDRS" (RFC 3461 4.3)
// " ENVID=" and 100 characters (RFC 3461 4.4), each of which may come as xtext "+XX" (RFC 3461 4)
inline constexpr std::size_t kEnvidParamLength = 7 + 3 * 100;
inline constexpr std::size_t kNotifyParamLength = 30;        // " NOTIFY=SUCCESS,FAILURE,DELAY" (RFC 3461 4.1)
inline constexpr std::size_t kOrcptParamLength = 7 + 500;    // " ORCPT=" and 500 characters (RFC 3461 4.2)
inline constexpr std::size_t kAuthParamLength = 500;         // RFC 4954 5: AUTH= on MAIL
// RFC 4954 4: a server must take the longest response of its mechanisms; PLAIN's is 3 * 255
// octets and two NULs (RFC 4616 2), 1024 in base64: with "AUTH PLAIN " and room to spare.
inline constexpr std::size_t kMaxAuthLine = 2048;
inline constexpr std::size_t kMaxTextLine = 1000;     // including CRLF
inline constexpr std::size_t kMinRecipientLimit = 100;
// RCPTs a session may send beyond max_recipients (each answered 452 4.5.3, RFC 5321 4.5.3.1.10)
// before every further one counts as an error: a client with a long list pipelines it whole
// and sends the rest in a new transaction, but one that never stops is not served forever.
// Postfix's smtpd_recipient_overshoot_limit has the same default.
inline constexpr std::size_t kRecipientOvershoot = 1000;

struct SessionConfig {
    std::string hostname = "localhost";            // in the greeting and the EHLO reply
    std::uint64_t max_message_size = 25u << 20;    // SIZE advertised; 552 beyond it
    std::size_t max_recipients = 1000;             // per transaction; 452 4.5.3 beyond (4.5.3.1.10)
    std::size_t max_errors = 10;                   // bad commands before 421 and close
    // Commands that move no mail (RSET, NOOP, HELP, VRFY, EHLO, HELO) allowed per session
    // before each further one counts as an error (as Postfix's smtpd_junk_command_limit, same
    // default); 0 = no limit.
    std::size_t max_junk_commands = 100;
    bool vrfy = false;                             // VRFY asks the host; else 252 (RFC 5321 3.5.3)
    bool starttls_available = false;               // advertise STARTTLS (RFC 3207)
    // Submission (RFC 6409, RFC 8314): MAIL only once the connection is encrypted (530 5.7.0
    // "Must issue a STARTTLS command first", RFC 3207 4) and the client authenticated (530
    // 5.7.0 "Authentication required", RFC 4954 6).
    bool require_tls = false;
    bool require_auth = false;
    // AUTH (RFC 4954) PLAIN and LOGIN, offered under TLS; `auth_plaintext` offers it in clear
    // too (the network layer sets it only for loopback clients, for tests).
    bool auth_available = false;
    bool auth_plaintext = false;
    bool dsn = false;                              // advertise DSN, accept its parameters (RFC 3461)
};

enum class LineVerb { Mail, Rcpt, Other };
// The longest command line (CRLF included) accepted for MAIL, RCPT and the rest with the
// extensions `config` offers: 512 raised by each extension's parameters.
std::size_t command_line_limit(const SessionConfig& config, LineVerb verb);

// The host's answer to authenticate().
enum class AuthVerdict {
    Ok,           // 235 2.7.0
    Failed,       // 535 5.7.8, counted as an error
    Locked,       // 421 4.7.0 and close: too many failures
    Unavailable,  // 454 4.7.0
};

struct ClientInfo {
    std::string address;   // textual IP ("127.0.0.1", "::1")
    std::uint16_t port = 0;
    bool tls = false;      // the connection is encrypted (ESMTPS in Received)
    std::string name;      // from PTR, confirmed by A/AAAA holding `address`; empty: none
};

// The decisions the engine cannot make alone. Called synchronously from within receive().
class SessionHost {
public:
    virtual ~SessionHost() = default;

    // MAIL FROM passed the grammar. Return 250 2.1.0 to accept, or a refusal.
    virtual Reply check_mail(const Envelope& envelope) = 0;
    // RCPT TO passed the grammar and the recipient limit. Return 250 2.1.5, 550 5.1.1, 554 5.7.1, ...
    virtual Reply check_rcpt(const Envelope& envelope, const Recipient& rcpt) = 0;
    // The message content begins (DATA accepted, or first BDAT). Return nothing to go ahead, or a
    // refusal (e.g. 451 4.3.0 when the spool cannot take it).
    virtual std::optional<Reply> begin_message(const Envelope& envelope) = 0;
    // Message content in order: dot-unstuffed, CRLF line endings, without the final "."; it
    // may arrive in many pieces, split anywhere.
    virtual void message_data(std::string_view content) = 0;
    // The content is complete and acceptable. The host makes it durable and then calls
    // Session::message_done() with the reply (250 with the queue id, or 451). Until then the
    // session processes no further input (awaiting_host() is true).
    virtual void end_message(const Envelope& envelope) = 0;
    // Discard everything given since begin_message (refused content, RSET, close in mid-DATA).
    virtual void abort_message() = 0;
    // VRFY of an address that passed the grammar, when SessionConfig::vrfy is on (RFC 5321
    // 3.5.3): 250 for a mailbox that exists, 550 for one that does not, 252 when it cannot
    // tell. A bare user name ("VRFY alice") comes with an empty domain.
    virtual Reply verify(const Mailbox& address) {
        (void)address;
        return Reply(252, "2.5.0", "Cannot VRFY user, but will accept message");
    }

    // AUTH gave this user and password (the password is the host's to wipe). The host checks
    // them off the engine's thread and then calls Session::auth_done(); until then the
    // session processes no further input (awaiting_host() is true).
    virtual void authenticate(const std::string& user, std::string password) {
        (void)user;
        (void)password;
    }

    // Observation hooks; the default does nothing.
    // A command line received (without CRLF) or a reply sent; message content never passes here.
    virtual void trace(bool from_client, std::string_view line) { (void)from_client; (void)line; }
    // A protocol event worth one log line: "helo", "mail", "rcpt", "rejected" (any 4xx/5xx
    // reply, as detail), "data", "rset", "quit", "starttls", "too-many-errors",
    // "too-many-commands" (the errors that closed the session were commands past
    // max_junk_commands), "timeout",
    // "shutdown", "data-timeout", "data-too-slow", "chunk-too-big", "auth", "auth-failed", "auth-locked".
    virtual void event(std::string_view what, std::string_view detail) { (void)what; (void)detail; }
};

class Session {
public:
    Session(const SessionConfig& config, ClientInfo client, SessionHost& host);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Queue the 220 greeting. `refusal` instead greets with it (e.g. 421 4.7.0 too many
    // connections) and closes.
    void start();
    void start_refused(const Reply& refusal);

    // Feed bytes from the network; processes as much as it can (several pipelined commands).
    void receive(std::string_view bytes);
    // The host's verdict for the message handed over by end_message(); resumes processing.
    void message_done(const Reply& reply);
    // The host's verdict on the credentials given to authenticate(); resumes processing.
    void auth_done(AuthVerdict verdict);
    // The user authenticated by AUTH, empty before.
    const std::string& authenticated_user() const;
    // The peer closed the connection (mid-transaction content is aborted through the host).
    void peer_closed();
    // The idle timer expired (RFC 5321 4.5.3.2): 421 4.4.2 and close. Open message content is
    // aborted through the host. While awaiting_host(), the 421 follows the message's reply.
    void timeout();
    // The message being received (DATA, or BDAT chunks up to LAST) has taken longer than its
    // overall time limit: 421 4.4.2 and close; the content is aborted through the host. The
    // network layer keeps that clock; see in_message().
    void message_timeout();
    // The message's content arrives slower than the minimum data rate the network layer
    // measures: 421 4.4.2 and close, content aborted, as message_timeout() does. `detail`
    // (what was measured) goes to the host's event.
    void message_too_slow(std::string_view detail);
    // The server is stopping: 421 4.3.2 and close, as timeout() does.
    void shutdown();

    // STARTTLS (RFC 3207) was accepted: its 220 is in take_output(). Everything the client sent
    // after the command was discarded (plaintext must not leak into the TLS session) and no
    // input is processed until the network layer has done the handshake and calls tls_started().
    bool tls_handshake_pending() const;
    // The TLS handshake succeeded: the session starts over as RFC 3207 4.2 requires (the client
    // must say EHLO again) and protocol() reports ESMTPS.
    void tls_started();

    // Bytes to send now (replies, possibly several pipelined ones); empties the buffer.
    std::string take_output();
    // The session is over: send what take_output() gave, then close.
    bool wants_close() const;
    // Waiting for message_done(): do not read more from the network until then.
    bool awaiting_host() const;
    // Receiving message content (DATA or between BDAT chunks): the data timeout applies.
    bool in_message() const;

    const std::string& helo_name() const;  // as given in EHLO/HELO, empty before
    bool esmtp() const;                    // the client said EHLO
    // RFC 3848 "with" keyword for the Received header: SMTP, ESMTP, ESMTPS, ESMTPA, UTF8SMTP, ...
    std::string protocol() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::smtp

// The SMTP client protocol engine: one connection to one next hop, carrying one or more
// messages (RFC 5321 3 and 4; RFC 2920 client rules; RFC 1870, 6152, 6531, 3461 parameters).
//
// No sockets, clocks, files or DNS: the caller connects, feeds what the peer sends to feed(),
// writes what take_output() returns, arms the timer that awaiting() names, and calls abort()
// when the connection drops or that timer fires. The message content is not the engine's: once
// the peer has said 354, wants_content() asks for it and the caller gives it in pieces of its
// choosing (read from the spool as the socket drains), which the engine dot-stuffs on the fly,
// so no whole message is ever held by the engine. Results come back per recipient.
//
// A recipient is Delivered only when the peer answered 2xx to the final "." of a message that
// listed it. Whatever ends the conversation earlier (a dropped connection, a timeout, a 421,
// a reply we cannot parse) leaves every recipient not yet finally answered Deferred: without the
// 250 the message is still ours to deliver (RFC 5321 6.1). If the peer did take it and only its
// reply was lost, the recipient gets it twice, the lesser harm (4.5.3.2.6, RFC 1047).
//
// STARTTLS (RFC 3207) is the engine's step and the handshake the caller's: when the policy
// allows and the peer offers it, the engine says STARTTLS after EHLO; on 220 wants_tls() asks
// the caller to do the handshake on the connection and report it (tls_established() or
// tls_failed()); the engine then forgets all it learnt in plaintext (RFC 3207 4.2), bytes that
// came after the 220 included, and says EHLO again. Whether the policy lets the conversation
// go on without TLS, or with an unverified certificate, is decided here too.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/client_reply.hpp"
#include "delivery/dot_stuffing.hpp"
#include "delivery/outbound_tls.hpp"
#include "smtp/envelope.hpp"
#include "smtp/reply.hpp"

namespace ehlo::delivery {

// One message for this next hop.
struct OutboundMessage {
    smtp::Envelope envelope;
    std::vector<std::size_t> recipient_indexes;  // the envelope recipients routed to this hop
    std::uint64_t content_size = 0;              // octets of content (CRLF, not dot-stuffed), for SIZE
    bool eight_bit = false;                      // the content has octets >= 0x80 (RFC 6152)
    bool needs_smtputf8 = false;                 // an address or header needs SMTPUTF8 (RFC 6531)
};

enum class Outcome { Delivered, Deferred, Failed };

struct RecipientResult {
    std::size_t index = 0;  // into envelope.recipients
    smtp::Reply reply;      // the reply that decided the outcome
    Outcome outcome = Outcome::Deferred;
    // The reply came from the peer; false when we made it ourselves (refused before sending,
    // connection lost): a DSN names the peer as Remote-MTA only for its own replies.
    bool remote = true;
};

struct MessageResult {
    std::vector<RecipientResult> recipients;  // in the order of recipient_indexes
    std::optional<smtp::Reply> data_reply;    // the reply to DATA or to the final ".", if any
    // DSN parameters were passed on (the peer offers DSN, RFC 3461 5.2): success notifications
    // are then the next hop's to send; otherwise a NOTIFY=SUCCESS recipient gets a "relayed" DSN.
    bool dsn_passed_on = false;
};

struct ClientOptions {
    bool pipelining = true;  // pipeline MAIL, RCPT and DATA when the peer offers PIPELINING
    // STARTTLS: None for a caller that cannot do a TLS handshake (the default); RemoteDelivery
    // passes the destination's policy.
    TlsPolicy tls = TlsPolicy::None;
};

// Which RFC 5321 4.5.3.2 client timeout applies to the reply now awaited.
enum class ClientWait {
    Nothing,          // no reply awaited: the caller sends a message or quits
    Greeting,         // 4.5.3.2.1 initial 220: 5 minutes
    Command,          // EHLO, HELO, STARTTLS, RSET, QUIT: 5 minutes, as for MAIL
    Mail,             // 4.5.3.2.2: 5 minutes
    Rcpt,             // 4.5.3.2.3: 5 minutes
    DataInitiation,   // 4.5.3.2.4 DATA until 354: 2 minutes
    DataTermination,  // 4.5.3.2.6 final "." until its reply: 10 minutes
};
std::chrono::seconds timeout_of(ClientWait wait);
// 4.5.3.2.5: each write of message content (the bytes after 354) must finish within 3 minutes.
inline constexpr std::chrono::seconds kDataBlockTimeout{3 * 60};

class ClientSession {
public:
    // `helo_name`: our name for EHLO/HELO (RFC 5321 4.1.1.1: the client's primary host name).
    explicit ClientSession(std::string helo_name, ClientOptions options = {});
    ~ClientSession();
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;

    // Bytes from the peer, in any pieces. Ignored once finished().
    void feed(std::string_view bytes);
    // Bytes to send now; empties the buffer.
    std::string take_output();
    // The connection dropped or the awaited reply timed out (`reason` says which): every
    // recipient not finally answered is Deferred with 421 4.4.2 `reason`; the session is over.
    void abort(std::string_view reason);

    // A message may be given to send(): none is in progress or waiting, and the session is not
    // ending. True from the start: a message given before the greeting waits for EHLO.
    bool wants_message() const;
    // Starts the next transaction as soon as the connection is ready (no RSET is needed after
    // a completed transaction, RFC 5321 4.1.1.5). Throws std::logic_error unless wants_message()
    // or if a recipient index is out of range: that is a mistake of the caller, not the peer's.
    void send(OutboundMessage message);
    // The peer is ready for the content (it said 354): the message whose content is wanted,
    // numbered from 0 in the order messages were given to send(). Give it with send_content()
    // in pieces, then end_content(). A caller that cannot read the content to its end must
    // abort(): ending early would deliver a truncated message.
    std::optional<std::size_t> wants_content() const;
    void send_content(std::string_view piece);
    void end_content();
    // The results of completed transactions, oldest first; each is given once.
    std::optional<MessageResult> take_result();
    // No more messages: QUIT once the current transaction (if any) is complete.
    void quit();

    // The conversation is over: write what take_output() gives, then close.
    bool finished() const;
    // The connection ended abnormally: the greeting or EHLO/HELO was refused, a 421, a reply
    // we cannot parse, or abort(). Before any message was delivered, the caller tries the next
    // MX (RFC 5321 5.1), for a 5xx greeting as for a 4xx one: a refusal by one host is not a
    // refusal by the domain. Queued messages' recipients are all Deferred in that case.
    bool failed() const;
    // Why failed(): the peer's reply, or one we made (421 4.4.2 / 4.5.0, 451 4.7.x for TLS).
    const smtp::Reply& connection_error() const;
    // connection_error() is the peer's own reply (false: one we made).
    bool connection_error_remote() const;

    // The peer said 220 to STARTTLS: the caller does the TLS handshake now (take_output() is
    // empty; nothing may be sent in plaintext any more), then calls one of the two below.
    bool wants_tls() const;
    // The handshake is done: EHLO again over TLS, unless the policy is Verify and the
    // certificate did not verify (then QUIT, over TLS, and failed()).
    void tls_established(const TlsHandshake& handshake);
    // The handshake failed (`reason` says how): the connection is unusable, the session over
    // and failed(), every recipient Deferred with 4.7.5.
    void tls_failed(std::string_view reason);
    // The connection is encrypted: the handshake it had, else nothing.
    const std::optional<TlsHandshake>& tls() const;
    // The session failed in the handshake under the May policy: the caller may connect again
    // to the same host and send in plaintext (with TlsPolicy::None). Never under Encrypt or
    // Verify: there a failed handshake defers, whatever it failed on.
    bool retry_in_plaintext() const;
    // The peer's reply to STARTTLS when it was not 220 (the session went on in plaintext
    // under May), for the log.
    const std::optional<smtp::Reply>& starttls_refused() const;

    // What the peer offered (all false before its EHLO reply, and after a fallback to HELO).
    // After STARTTLS: what it offered in its EHLO reply over TLS.
    const Capabilities& peer() const;
    // The reply now awaited, for timeout_of().
    ClientWait awaiting() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::delivery

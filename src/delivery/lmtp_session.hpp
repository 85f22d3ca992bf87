// The LMTP client protocol engine (RFC 2033): one connection to an LMTP server (Dovecot's
// lmtp, Cyrus...), carrying one message at a time, sans-I/O as ClientSession is: the caller
// feeds the peer's bytes, writes take_output(), arms the timer awaiting() names, and gives the
// content once wants_content() asks for it.
//
// What differs from SMTP, and why it has an engine of its own:
//   - LHLO, never EHLO or HELO (RFC 2033 4.1): a server that refuses LHLO is no LMTP server;
//   - after the final ".", one reply per recipient whose RCPT was accepted, in RCPT order
//     (RFC 2033 4.2): some may be delivered, some deferred (a 4xx: over quota, a locked
//     mailbox), some failed, each on its own;
//   - the server MUST support PIPELINING (RFC 2033 5), so MAIL, the RCPTs and DATA go in one
//     write whatever it offers.
// A recipient is Delivered only by its own 2xx after the final "."; whatever ends the
// conversation earlier leaves every recipient not yet answered Deferred (RFC 5321 6.1).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "delivery/client_reply.hpp"
#include "delivery/client_session.hpp"
#include "smtp/reply.hpp"

namespace ehlo::delivery {

class LmtpSession {
public:
    // `lhlo_name`: our name in LHLO.
    explicit LmtpSession(std::string lhlo_name);
    ~LmtpSession();
    LmtpSession(const LmtpSession&) = delete;
    LmtpSession& operator=(const LmtpSession&) = delete;

    // The same contract as ClientSession's members of the same names.
    void feed(std::string_view bytes);
    std::string take_output();
    void abort(std::string_view reason);
    bool wants_message() const;
    // Throws std::logic_error unless wants_message(), or for a recipient index out of range.
    void send(OutboundMessage message);
    bool wants_content() const;
    void send_content(std::string_view piece);
    void end_content();
    // The result of the message, once every recipient has its outcome; given once. `data_reply`
    // is the last reply after the final "." (or the reply to DATA); DSN is never passed on.
    std::optional<MessageResult> take_result();
    void quit();
    bool finished() const;
    bool failed() const;
    const smtp::Reply& connection_error() const;
    const Capabilities& peer() const;
    // Greeting, Command (LHLO, RSET, QUIT), Mail, Rcpt, DataInitiation or DataTermination (a
    // reply after the final "."), for timeout_of().
    ClientWait awaiting() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace ehlo::delivery

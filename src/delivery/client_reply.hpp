// Replies from a server we are the client of, read strictly (RFC 5321 4.2, 4.2.1), and what its
// EHLO reply offers (RFC 5321 4.1.1.1). The peer may be hostile or broken: a reply is taken only
// when it is well formed, and nothing it sends can make us buffer more than one reply line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/reply.hpp"

namespace ehlo::delivery {

// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets including CRLF.
inline constexpr std::size_t kMaxReplyLine = 512;
// Lines in one multiline reply. A real EHLO reply has a dozen; RFC 5321 sets no number, so this
// bounds what one reply may hold in memory (100 x 512 octets).
inline constexpr std::size_t kMaxReplyLines = 100;

// Assembles replies from the peer's bytes. Each line must be three digits (RFC 5321 4.2: first
// 2-5, second 0-5), then "-" (more lines follow), SP or nothing (last line), then CRLF; every
// line of a multiline reply carries the same code (4.2.1). A bare CR or LF, a NUL, an overlong
// line, too many lines or a code change is a protocol error: the reader stops for good.
//
// The reply's lines hold the text after the code; an RFC 3463 enhanced status code at the start
// of the text (of the reply's class: "5.1.1" in a 550) is moved into Reply::enhanced.
class ReplyReader {
public:
    // Consumes bytes of `in` until one reply is complete, an error occurs or `in` is used up;
    // returns how many octets were consumed (the rest belongs to the next call).
    std::size_t feed(std::string_view in);
    // The reply completed by the last feed(); given once.
    std::optional<smtp::Reply> take();
    // The peer broke the grammar; error() says how, for the log and the deferral reason.
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }

private:
    bool end_line();  // false on a grammar error

    std::string line_;            // the current line, without its LF
    smtp::Reply pending_;         // lines of the reply being assembled
    bool in_reply_ = false;       // pending_ holds at least one continuation line
    std::optional<smtp::Reply> complete_;
    std::string error_;
};

// What a server offers in its EHLO reply (RFC 5321 4.1.1.1: one keyword per line after the
// first). Unknown keywords are ignored; keywords are case-insensitive (RFC 5321 2.4).
struct Capabilities {
    bool esmtp = false;                  // EHLO was accepted; after HELO nothing else is offered
    bool pipelining = false;             // RFC 2920
    bool size = false;                   // RFC 1870
    std::uint64_t max_size = 0;          // SIZE's declared fixed maximum; 0 = none declared
    bool eight_bit_mime = false;         // RFC 6152
    bool smtputf8 = false;               // RFC 6531
    bool chunking = false;               // RFC 3030
    bool dsn = false;                    // RFC 3461
    bool starttls = false;               // RFC 3207
    bool enhanced_status_codes = false;  // RFC 2034
};

// Capabilities from a 250 reply to EHLO (esmtp is set).
Capabilities parse_ehlo(const smtp::Reply& reply);

}  // namespace ehlo::delivery

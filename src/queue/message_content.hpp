// What the queue needs to know about a message's content (CRLF lines, as spooled): its header
// section, for loop detection (RFC 5321 6.3), for DSNs and for `ehlo queue show`; whether it
// has 8-bit octets; and the content itself read back from the spool.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace ehlo::queue {

// Header fields named "Received" (case-insensitive; RFC 5322 4.5.8 allows space before the
// colon) in the header section. Continuation lines are part of their field and never counted.
std::size_t count_received(std::string_view content);

// What onward delivery must know of a content before it sends a byte of it: learnt while the
// content passes anyway (written to the spool, or read back to check its checksum), so that
// no delivery attempt reads a message twice.
struct ContentFacts {
    bool eight_bit = false;     // an octet >= 0x80 anywhere: BODY=8BITMIME (RFC 6152)
    bool utf8_headers = false;  // one in the header section: SMTPUTF8 may be needed (RFC 6531 3.2)
    std::size_t received = 0;   // Received fields, as count_received() counts them (RFC 5321 6.3)
};

// Learns ContentFacts from the content in pieces cut anywhere, holding no more than a few
// octets of state between them.
class ContentFactsScanner {
public:
    void feed(std::string_view piece);
    const ContentFacts& facts() const { return facts_; }

private:
    ContentFacts facts_;
    bool in_headers_ = true;
    bool line_start_ = true;
    bool line_empty_ = true;   // the current line has nothing but a CR so far
    // Matching "Received" then blanks then ':' at the start of a field line.
    enum class Name { Matching, Blanks, Other } name_ = Name::Matching;
    std::size_t matched_ = 0;
};

// The facts of a content whose header fields `top` (a spool file's Top record) go above it.
ContentFacts with_top(ContentFacts content, const ContentFacts& top);

// The whole content of spool file `path`.
std::error_code read_spool_text(const std::filesystem::path& path, std::string& out);
// Its header section, reading no further than needed; at most `limit` octets of it.
std::error_code read_spool_header_section(const std::filesystem::path& path, std::string& out, std::size_t limit);

}  // namespace ehlo::queue

#include "smtp/content_check.hpp"

#include <cstring>

#include "smtp/session.hpp"

namespace ehlo::smtp {

namespace {

// The position of the first CR, LF or NUL in piece[from...], or piece.size().
std::size_t next_special(std::string_view piece, std::size_t from) {
    const char* begin = piece.data() + from;
    std::size_t until = piece.size() - from;
    for (const char c : {'\n', '\r', '\0'}) {
        if (const void* p = std::memchr(begin, c, until)) until = static_cast<std::size_t>(static_cast<const char*>(p) - begin);
    }
    return from + until;
}

}  // namespace

void ContentCheck::feed(std::string_view piece) {
    size_ += piece.size();
    // RFC 1870 and 5321 4.5.3.1.7: the size counted is that of the content as received.
    if (max_size_ != 0 && size_ > max_size_) too_big_ = true;
    std::size_t i = 0;
    while (i < piece.size()) {
        if (cr_pending_) {
            cr_pending_ = false;
            if (piece[i] == '\n') {
                line_length_ = 0;
                ++i;
                continue;
            }
            bad_octet_ = true;  // RFC 5321 2.3.8: CR only as part of CRLF
        }
        // Ordinary octets up to the next CR, LF or NUL are only counted.
        const std::size_t stop = next_special(piece, i);
        if (stop > i) {
            if (line_length_ == 0 && piece[i] == '.') ++line_length_;  // the stuffing dot it has on the wire
            line_length_ += stop - i;
            // RFC 5321 4.5.3.1.6: 1000 octets per line including CRLF.
            if (line_length_ + 2 > kMaxTextLine) long_line_ = true;
            i = stop;
            if (i == piece.size()) break;
        }
        const char c = piece[i++];
        ++line_length_;
        if (c == '\r') {
            if (line_length_ + 1 > kMaxTextLine) long_line_ = true;  // its LF would make it too long
            cr_pending_ = true;
        } else {
            bad_octet_ = true;  // a bare LF, or a NUL (RFC 5321 2.3.8, 4.1.1.4)
        }
    }
}

void ContentCheck::finish() {
    if (cr_pending_) bad_octet_ = true;
    cr_pending_ = false;
}

std::optional<Reply> ContentCheck::verdict() const {
    if (bad_octet_) return Reply(554, "5.6.0", "Message refused: bare CR, bare LF or NUL in content (RFC 5321 2.3.8)");
    if (long_line_) return Reply(554, "5.6.0", "Line too long");
    if (too_big_) return Reply(552, "5.3.4", "Message too big");
    return std::nullopt;
}

}  // namespace ehlo::smtp

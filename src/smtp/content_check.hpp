// The checks every message's content must pass before it is accepted, by DATA or BDAT alike,
// so that nothing we queue can later be relayed as something other than it was.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "smtp/reply.hpp"

namespace ehlo::smtp {

class ContentCheck {
public:
    explicit ContentCheck(std::uint64_t max_size = 0) : max_size_(max_size) {}

    // Content in order, dot-unstuffed, split anywhere.
    void feed(std::string_view piece);
    // The content is complete: a CR left pending at its very end is bare.
    void finish();

    // Nothing wrong so far: the content may still go to the host.
    bool acceptable() const { return !bad_octet_ && !long_line_ && !too_big_; }
    // The refusal for the whole message, or nothing. Bare CR/LF/NUL first, as the most telling.
    std::optional<Reply> verdict() const;

    std::uint64_t size() const { return size_; }
    // The content so far ends with CRLF (or is empty).
    bool at_line_start() const { return line_length_ == 0 && !cr_pending_; }

private:
    std::uint64_t max_size_;
    std::uint64_t size_ = 0;
    std::size_t line_length_ = 0;  // octets of the current line as sent with DATA
    bool cr_pending_ = false;
    bool bad_octet_ = false;
    bool long_line_ = false;
    bool too_big_ = false;
};

}  // namespace ehlo::smtp

#include "smtp/data_reader.hpp"

#include <cstring>

namespace ehlo::smtp {

namespace {

// The position of the first CR or LF in in[from...], or in.size(). Two memchr calls: the LF
// that ends the line, then a CR before it (usually the one of its CRLF).
std::size_t next_cr_or_lf(std::string_view in, std::size_t from) {
    const char* begin = in.data() + from;
    const std::size_t rest = in.size() - from;
    const void* lf = std::memchr(begin, '\n', rest);
    const std::size_t until_lf = lf ? static_cast<std::size_t>(static_cast<const char*>(lf) - begin) : rest;
    const void* cr = std::memchr(begin, '\r', until_lf);
    const std::size_t until = cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - begin) : until_lf;
    return from + until;
}

}  // namespace

std::size_t DataReader::feed(std::string_view in, std::string& out) {
    std::size_t i = 0;
    while (i < in.size() && state_ != State::Done) {
        if (state_ == State::InLine) {
            // Fast path: the middle of a line is copied as it is, up to its next CR or LF.
            const std::size_t stop = next_cr_or_lf(in, i);
            out.append(in.data() + i, stop - i);
            i = stop;
            if (i == in.size()) break;
        }
        const char c = in[i++];
        switch (state_) {
            case State::LineStart:
                if (c == '.') {
                    state_ = State::Dot;
                    continue;
                }
                break;
            case State::Dot:
                if (c == '\r') {
                    state_ = State::DotCr;
                    continue;
                }
                // RFC 5321 4.5.2: a leading dot with more on the line is removed.
                break;
            case State::DotCr:
                if (c == '\n') {
                    state_ = State::Done;
                    continue;
                }
                // ".\r" and something other than LF: the dot was stuffing, the CR is bare.
                out += '\r';
                state_ = State::InLineCr;
                break;
            default:
                break;
        }
        // An octet inside a line.
        if (state_ == State::InLineCr && c == '\n') {
            out += '\n';
            state_ = State::LineStart;
        } else if (c == '\r') {
            out += '\r';
            state_ = State::InLineCr;
        } else {
            // A LF here is bare: it does not start a line, so a dot after it is content.
            out += c;
            state_ = State::InLine;
        }
    }
    return i;
}

}  // namespace ehlo::smtp

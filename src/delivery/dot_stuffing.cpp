#include "delivery/dot_stuffing.hpp"

namespace ehlo::delivery {

void DotStuffer::feed(std::string_view piece, std::string& out) {
    out.reserve(out.size() + piece.size() + piece.size() / 64 + 8);
    std::size_t i = 0;
    if (after_cr_ && !piece.empty()) {
        after_cr_ = false;
        if (piece[0] == '\n') i = 1;  // the LF of a CRLF whose CR ended the last piece
    }
    while (i < piece.size()) {
        if (line_start_ && piece[i] == '.') out += '.';  // RFC 5321 4.5.2: transparency
        line_start_ = false;
        const std::size_t end = piece.find_first_of("\r\n", i);
        if (end == std::string_view::npos) {
            out.append(piece.substr(i));
            return;
        }
        out.append(piece.substr(i, end - i));
        out += "\r\n";
        line_start_ = true;
        if (piece[end] == '\r' && end + 1 == piece.size()) {
            after_cr_ = true;  // its LF, if any, comes with the next piece
            return;
        }
        i = end + ((piece[end] == '\r' && piece[end + 1] == '\n') ? 2 : 1);
    }
}

void DotStuffer::finish(std::string& out) {
    if (!line_start_) out += "\r\n";
    out += ".\r\n";
    line_start_ = true;
    after_cr_ = false;
}

std::string data_block(std::string_view content) {
    std::string out;
    DotStuffer stuffer;
    stuffer.feed(content, out);
    stuffer.finish(out);
    return out;
}

}  // namespace ehlo::delivery

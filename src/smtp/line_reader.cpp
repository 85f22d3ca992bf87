#include "smtp/line_reader.hpp"

namespace ehlo::smtp {

LineReader::Event LineReader::next(std::string_view in, std::size_t& pos) {
    while (true) {
        if (discarding_) {
            // Only CRLF ends the over-long line; a CR at the very end may be half of it.
            const std::size_t crlf = in.find("\r\n", pos);
            if (crlf == std::string_view::npos) {
                pos = (in.size() > pos && in.back() == '\r') ? in.size() - 1 : in.size();
                return {};
            }
            pos = crlf + 2;
            discarding_ = false;
            continue;
        }
        const std::size_t lf = in.find('\n', pos);
        const std::size_t end = lf == std::string_view::npos ? in.size() : lf;
        // The octets known to belong to the line: a CR right before the LF (or, without a LF
        // yet, at the end of the input) may be the line's CRLF and does not count.
        std::size_t length = end - pos;
        const bool cr_before_end = length > 0 && in[end - 1] == '\r';
        if (cr_before_end) --length;
        if (length > max_content_) {
            const Event e{Kind::TooLong, in.substr(pos, max_content_ + 1)};
            pos += max_content_ + 1;
            discarding_ = true;
            return e;
        }
        if (lf == std::string_view::npos) return {};
        const Event e{cr_before_end ? Kind::Line : Kind::BareLf, in.substr(pos, length)};
        pos = lf + 1;
        return e;
    }
}

}  // namespace ehlo::smtp

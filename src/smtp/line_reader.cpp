#include "smtp/line_reader.hpp"

#include "smtp/text.hpp"

namespace ehlo::smtp {

void LineReader::extend(std::string_view prefix, std::size_t max_line_with_crlf) {
    extensions_.push_back({std::string(prefix), max_line_with_crlf - 2});
}

std::size_t LineReader::limit_for(std::string_view line) const {
    for (const Extension& e : extensions_)
        if (istarts_with(line, e.prefix)) return e.max_content;
    return base_;
}

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
        // Past the base limit the line's first octets are known, and with them its own limit.
        const std::size_t limit = length > base_ ? limit_for(in.substr(pos, length)) : base_;
        if (length > limit) {
            const Event e{Kind::TooLong, in.substr(pos, limit + 1)};
            pos += limit + 1;
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

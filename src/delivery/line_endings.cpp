#include "delivery/line_endings.hpp"

namespace ehlo::delivery {

void CrlfToLf::convert(std::string_view in, std::string& out) {
    if (in.empty()) return;
    if (held_cr_) {
        held_cr_ = false;
        if (in.front() != '\n') out += '\r';
    }
    std::size_t start = 0;
    for (;;) {
        std::size_t cr = in.find('\r', start);
        if (cr == std::string_view::npos) {
            out.append(in.substr(start));
            return;
        }
        out.append(in.substr(start, cr - start));
        if (cr + 1 == in.size()) {
            held_cr_ = true;
            return;
        }
        if (in[cr + 1] != '\n') out += '\r';
        start = cr + 1;
    }
}

void CrlfToLf::finish(std::string& out) {
    if (held_cr_) out += '\r';
    held_cr_ = false;
}

}  // namespace ehlo::delivery

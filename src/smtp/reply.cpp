#include "smtp/reply.hpp"

namespace ehlo::smtp {

namespace {

// A reply line must never carry a line break of its own: text that came from elsewhere (a host
// decision quoting an address, say) could otherwise forge extra reply lines.
void append_text(std::string& out, const std::string& text) {
    for (char c : text) out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
}

}  // namespace

std::string Reply::wire(bool enhanced_codes) const {
    const std::string code_text = std::to_string(code);
    const bool with_enhanced = enhanced_codes && !enhanced.empty();
    std::string out;
    if (lines.empty()) {
        out = code_text;
        if (with_enhanced) out += ' ' + enhanced;
        out += "\r\n";
        return out;
    }
    for (std::size_t i = 0; i < lines.size(); ++i) {
        out += code_text;
        // RFC 5321 4.2.1: every line but the last has a hyphen after the code.
        out += (i + 1 < lines.size()) ? '-' : ' ';
        if (with_enhanced) {
            out += enhanced;
            if (!lines[i].empty()) out += ' ';
        }
        append_text(out, lines[i]);
        out += "\r\n";
    }
    return out;
}

std::string Reply::one_line() const {
    std::string text = std::to_string(code);
    if (!enhanced.empty()) text += " " + enhanced;
    for (const auto& line : lines)
        if (!line.empty()) text += " " + line;
    return text;
}

}  // namespace ehlo::smtp

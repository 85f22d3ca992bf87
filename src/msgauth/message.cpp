#include "msgauth/message.hpp"

namespace ehlo::msgauth {

namespace {

// RFC 5322 3.6.8: field-name = 1*ftext; ftext = %d33-57 / %d59-126
bool is_ftext(char c) { return c >= 33 && c <= 126 && c != ':'; }

}  // namespace

std::string_view HeaderField::value() const {
    const std::size_t colon = raw.find(':');
    return colon == std::string::npos ? std::string_view() : std::string_view(raw).substr(colon + 1);
}

bool HeaderField::is(std::string_view other) const { return iequals(name, other); }

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string_view trim(std::string_view text) {
    const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!text.empty() && ws(text.front())) text.remove_prefix(1);
    while (!text.empty() && ws(text.back())) text.remove_suffix(1);
    return text;
}

std::string printable(std::string_view text, std::size_t max) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : text.substr(0, max)) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        }
    }
    if (text.size() > max) out += "...";
    return out;
}

std::string to_crlf(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
        out += text[i];
    }
    return out;
}

std::optional<ParsedMessage> parse_message(std::string_view content, std::size_t max_fields) {
    ParsedMessage m;
    std::size_t at = 0;
    while (at < content.size()) {
        std::size_t eol = content.find("\r\n", at);
        const std::size_t line_end = eol == std::string_view::npos ? content.size() : eol;
        const std::size_t next = eol == std::string_view::npos ? content.size() : eol + 2;
        const std::string_view line = content.substr(at, line_end - at);
        if (line.empty()) {
            m.body_offset = next;
            return m;
        }
        if ((line.front() == ' ' || line.front() == '\t') && !m.fields.empty()) {
            m.fields.back().raw.append("\r\n").append(line);
            at = next;
            continue;
        }
        std::size_t name_end = 0;
        while (name_end < line.size() && is_ftext(line[name_end])) ++name_end;
        std::size_t colon = name_end;
        while (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) ++colon;
        if (name_end == 0 || colon >= line.size() || line[colon] != ':') {
            m.body_offset = at;  // not a header line: the body starts here
            return m;
        }
        if (m.fields.size() >= max_fields) return std::nullopt;
        m.fields.push_back(HeaderField{std::string(line.substr(0, name_end)), std::string(line)});
        at = next;
    }
    m.body_offset = content.size();
    return m;
}

}  // namespace ehlo::msgauth

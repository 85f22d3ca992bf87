#include "msgauth/tag_list.hpp"

namespace ehlo::msgauth {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_valchar(char c) { return c >= 0x21 && c <= 0x7e && c != ';'; }

bool fail(std::string* error, std::string why) {
    if (error) *error = std::move(why);
    return false;
}

// RFC 5322 FWS: CRLF only when followed by WSP. A bare CR or LF, or CRLF not followed by WSP,
// is not folding: refused rather than read as whitespace.
bool valid_fws(std::string_view text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            if (i + 2 >= text.size() || text[i + 1] != '\n' || (text[i + 2] != ' ' && text[i + 2] != '\t')) return false;
        } else if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) {
            return false;
        }
    }
    return true;
}

}  // namespace

const Tag* TagList::find(std::string_view name) const {
    for (const Tag& t : tags)
        if (t.name == name) return &t;
    return nullptr;
}

std::string without_whitespace(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text)
        if (!is_fws(c)) out += c;
    return out;
}

std::optional<TagList> parse_tag_list(std::string_view text, std::string* error) {
    TagList list;
    std::size_t at = 0;
    const auto skip_fws = [&] {
        while (at < text.size() && is_fws(text[at])) ++at;
    };
    while (true) {
        skip_fws();
        if (at >= text.size()) break;  // empty list, or a trailing ";"
        const std::size_t name_begin = at;
        if (!is_alpha(text[at])) return fail(error, "malformed tag name"), std::nullopt;
        while (at < text.size() && (is_alpha(text[at]) || is_digit(text[at]) || text[at] == '_')) ++at;
        std::string name(text.substr(name_begin, at - name_begin));
        skip_fws();
        if (at >= text.size() || text[at] != '=') return fail(error, "tag " + name + " has no '='"), std::nullopt;
        ++at;
        skip_fws();
        const std::size_t value_begin = at;
        std::size_t value_end = at;
        while (at < text.size() && text[at] != ';') {
            if (is_valchar(text[at]))
                value_end = at + 1;
            else if (!is_fws(text[at]))
                return fail(error, "invalid character in tag " + name), std::nullopt;
            ++at;
        }
        const std::string_view value = text.substr(value_begin, value_end - value_begin);
        if (!valid_fws(value)) return fail(error, "bad line folding in tag " + name), std::nullopt;
        if (list.find(name)) return fail(error, "duplicate tag " + name), std::nullopt;
        list.tags.push_back(Tag{std::move(name), std::string(value), value_begin, value_end});
        if (at >= text.size()) break;
        ++at;  // ';'
    }
    return list;
}

}  // namespace ehlo::msgauth

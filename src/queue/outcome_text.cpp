#include "queue/outcome_text.hpp"

#include <algorithm>

namespace ehlo::queue {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3463 2: class "." subject "." detail, subject and detail of 1-3 digits.
bool is_enhanced_code(std::string_view s, char reply_class) {
    if (s.size() < 5 || s[0] != reply_class || s[1] != '.') return false;
    std::size_t dot = s.find('.', 2);
    if (dot == std::string_view::npos || dot == 2 || dot > 5) return false;
    std::string_view detail = s.substr(dot + 1);
    auto digits = [](std::string_view d) { return std::all_of(d.begin(), d.end(), is_digit); };
    return digits(s.substr(2, dot - 2)) && !detail.empty() && detail.size() <= 3 && digits(detail);
}

}  // namespace

std::optional<smtp::Reply> parse_reply_text(std::string_view text) {
    if (text.size() < 3 || text[0] < '2' || text[0] > '5' || !is_digit(text[1]) || !is_digit(text[2]) ||
        (text.size() > 3 && text[3] != ' '))
        return std::nullopt;
    smtp::Reply reply;
    reply.code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
    reply.lines.clear();
    std::string_view rest = text.size() > 4 ? text.substr(4) : std::string_view{};
    const std::string_view first = rest.substr(0, rest.find(' '));
    if (is_enhanced_code(first, text[0])) {
        reply.enhanced = std::string(first);
        rest.remove_prefix(std::min(rest.size(), first.size() + 1));
    }
    reply.lines.emplace_back(rest);
    return reply;
}

}  // namespace ehlo::queue

#include "observe/header_summary.hpp"

#include "smtp/text.hpp"

namespace ehlo::observe {
namespace {

// A folded value made one line: each line break and the whitespace that starts the next line
// become one space (RFC 5322 2.2.3), outer whitespace goes.
std::string unfolded(std::string_view value) {
    std::string out;
    bool space = false;
    for (char c : value) {
        if (c == '\r' || c == '\n' || c == ' ' || c == '\t') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += c;
        if (out.size() >= kMaxSummaryField) break;
    }
    return out;
}

}  // namespace

HeaderSummary summarize_header_section(std::string_view headers) {
    HeaderSummary out;
    bool have_id = false, have_from = false, have_to = false, have_subject = false;
    while (!headers.empty()) {
        // One field: its first line and every line that starts with whitespace after it.
        std::size_t end = 0;
        for (;;) {
            const std::size_t eol = headers.find('\n', end);
            if (eol == std::string_view::npos) {
                end = headers.size();
                break;
            }
            end = eol + 1;
            if (end >= headers.size() || (headers[end] != ' ' && headers[end] != '\t')) break;
        }
        const std::string_view field = headers.substr(0, end);
        headers.remove_prefix(end);
        const std::size_t colon = field.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view name = field.substr(0, colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        const std::string_view value = field.substr(colon + 1);
        auto take = [&](bool& have, std::string& into, std::string_view wanted) {
            if (have || !smtp::iequals(name, wanted)) return;
            have = true;
            into = unfolded(value);
        };
        take(have_id, out.message_id, "Message-ID");
        take(have_from, out.from, "From");
        take(have_to, out.to, "To");
        take(have_subject, out.subject, "Subject");
        if (have_id && have_from && have_to && have_subject) break;
    }
    return out;
}

}  // namespace ehlo::observe

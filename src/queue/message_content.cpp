#include "queue/message_content.hpp"

#include <algorithm>

#include "queue/spool_file.hpp"

namespace ehlo::queue {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace

std::string_view header_section(std::string_view content) {
    if (content.starts_with("\r\n")) return {};
    const std::size_t end = content.find("\r\n\r\n");
    return end == std::string_view::npos ? content : content.substr(0, end + 2);
}

std::size_t count_received(std::string_view content) {
    std::string_view headers = header_section(content);
    std::size_t count = 0;
    while (!headers.empty()) {
        const std::size_t eol = headers.find("\r\n");
        std::string_view line = headers.substr(0, eol);
        headers.remove_prefix(eol == std::string_view::npos ? headers.size() : eol + 2);
        if (line.empty() || line[0] == ' ' || line[0] == '\t') continue;  // a continuation
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
        if (equals_ignoring_case(name, "received")) ++count;
    }
    return count;
}

bool has_eight_bit(std::string_view content) {
    return std::any_of(content.begin(), content.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

std::error_code read_spool_text(const std::filesystem::path& path, std::string& out) {
    out.clear();
    return read_spool_content(path, [&](std::string_view piece) {
        out.append(piece);
        return true;
    });
}

std::error_code read_spool_header_section(const std::filesystem::path& path, std::string& out, std::size_t limit) {
    out.clear();
    auto ec = read_spool_content(path, [&](std::string_view piece) {
        // Look for the end of the header section where this piece may complete it.
        const std::size_t from = out.size() < 3 ? 0 : out.size() - 3;
        out.append(piece);
        return out.find("\r\n\r\n", from) == std::string::npos && !out.starts_with("\r\n") && out.size() < limit;
    });
    out.resize(std::min(header_section(out).size(), limit));
    return ec;
}

}  // namespace ehlo::queue

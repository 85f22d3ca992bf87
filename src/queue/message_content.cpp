#include "queue/message_content.hpp"

#include <algorithm>

#include "queue/spool_file.hpp"
#include "smtp/text.hpp"

namespace ehlo::queue {

using smtp::header_section;

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
        if (smtp::iequals(name, "received")) ++count;
    }
    return count;
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

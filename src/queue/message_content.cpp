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

void ContentFactsScanner::feed(std::string_view piece) {
    static constexpr std::string_view kReceived = "received";
    for (char c : piece) {
        const bool high = static_cast<unsigned char>(c) >= 0x80;
        facts_.eight_bit = facts_.eight_bit || high;
        if (!in_headers_) {
            if (facts_.eight_bit) return;  // nothing more to learn
            continue;
        }
        facts_.utf8_headers = facts_.utf8_headers || high;
        if (c == '\n') {
            if (line_empty_) in_headers_ = false;  // the empty line that ends the header section
            line_start_ = true;
            line_empty_ = true;
            continue;
        }
        if (c != '\r') line_empty_ = false;
        if (line_start_) {
            line_start_ = false;
            matched_ = 0;
            // A continuation line (RFC 5322 2.2.3) is part of the field before it.
            name_ = (c == ' ' || c == '\t') ? Name::Other : Name::Matching;
        }
        switch (name_) {
            case Name::Matching:
                if (matched_ < kReceived.size() && smtp::to_lower(c) == kReceived[matched_]) {
                    ++matched_;
                } else if (matched_ == kReceived.size() && (c == ' ' || c == '\t')) {
                    name_ = Name::Blanks;
                } else if (matched_ == kReceived.size() && c == ':') {
                    ++facts_.received;
                    name_ = Name::Other;
                } else {
                    name_ = Name::Other;
                }
                break;
            case Name::Blanks:
                if (c == ':') {
                    ++facts_.received;
                    name_ = Name::Other;
                } else if (c != ' ' && c != '\t') {
                    name_ = Name::Other;
                }
                break;
            case Name::Other: break;
        }
    }
}

ContentFacts with_top(ContentFacts content, const ContentFacts& top) {
    content.eight_bit = content.eight_bit || top.eight_bit;
    content.utf8_headers = content.utf8_headers || top.utf8_headers;
    content.received += top.received;
    return content;
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

#include "delivery/client_reply.hpp"

#include <limits>

#include "smtp/text.hpp"

namespace ehlo::delivery {

namespace {

using smtp::iequals;
using smtp::is_digit;

// RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39.
bool is_reply_code(std::string_view l) {
    return l.size() >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '5' && is_digit(l[2]);
}

// Length of an RFC 3463 enhanced status code ("5.1.1", "4.7.100") at the start of `text`,
// followed by SP or the end, whose class is the class of `code`; 0 when there is none.
std::size_t enhanced_prefix(std::string_view text, int code) {
    if (text.size() < 5 || text[0] != static_cast<char>('0' + code / 100) || text[1] != '.') return 0;
    std::size_t i = 2;
    for (int part = 0; part < 2; ++part) {
        const std::size_t start = i;
        while (i < text.size() && is_digit(text[i]) && i - start < 3) ++i;
        if (i == start) return 0;
        if (part == 0) {
            if (i >= text.size() || text[i] != '.') return 0;
            ++i;
        }
    }
    if (i < text.size() && text[i] != ' ') return 0;
    return i;
}

void split_enhanced(smtp::Reply& reply) {
    if (reply.lines.empty()) return;
    const std::size_t n = enhanced_prefix(reply.lines.front(), reply.code);
    if (n == 0) return;
    reply.enhanced = reply.lines.front().substr(0, n);
    for (auto& line : reply.lines) {
        if (line.compare(0, n, reply.enhanced) != 0 || (line.size() > n && line[n] != ' ')) continue;
        line.erase(0, line.size() > n ? n + 1 : n);
    }
}

}  // namespace

std::size_t ReplyReader::feed(std::string_view in) {
    std::size_t i = 0;
    while (i < in.size() && !failed() && !complete_) {
        const char c = in[i++];
        if (c == '\n') {
            if (line_.empty() || line_.back() != '\r') {
                error_ = "bare LF in reply";
                break;
            }
            line_.pop_back();
            if (!end_line()) break;
            line_.clear();
            continue;
        }
        if (!line_.empty() && line_.back() == '\r') {
            error_ = "bare CR in reply";
            break;
        }
        if (c == '\0') {
            error_ = "NUL in reply";
            break;
        }
        // This octet and the LF still to come must fit in the line limit.
        if (line_.size() + 2 > kMaxReplyLine) {
            error_ = "reply line longer than 512 octets";
            break;
        }
        line_ += c;
    }
    return i;
}

std::optional<smtp::Reply> ReplyReader::take() {
    auto r = std::move(complete_);
    complete_.reset();
    return r;
}

bool ReplyReader::end_line() {
    const std::string_view l = line_;
    if (!is_reply_code(l)) {
        error_ = "reply line without a valid code";
        return false;
    }
    const int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    bool last = true;
    std::string_view text;
    if (l.size() > 3) {
        if (l[3] != '-' && l[3] != ' ') {
            error_ = "no SP or hyphen after the reply code";
            return false;
        }
        last = l[3] == ' ';
        text = l.substr(4);
    }
    if (in_reply_ && code != pending_.code) {
        error_ = "reply code changed within a multiline reply";
        return false;
    }
    if (!in_reply_) {
        pending_ = smtp::Reply{};
        pending_.code = code;
    }
    if (pending_.lines.size() == kMaxReplyLines) {
        error_ = "reply longer than 100 lines";
        return false;
    }
    pending_.lines.emplace_back(text);
    in_reply_ = !last;
    if (last) {
        split_enhanced(pending_);
        complete_ = std::move(pending_);
        pending_ = smtp::Reply{};
    }
    return true;
}

Capabilities parse_ehlo(const smtp::Reply& reply) {
    Capabilities caps;
    caps.esmtp = true;
    // The first line is the server's name and greeting, not a keyword (RFC 5321 4.1.1.1).
    for (std::size_t i = 1; i < reply.lines.size(); ++i) {
        const std::string_view line = reply.lines[i];
        const std::size_t sp = line.find(' ');
        const std::string_view keyword = line.substr(0, sp);
        const std::string_view params = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
        if (iequals(keyword, "PIPELINING")) {
            caps.pipelining = true;
        } else if (iequals(keyword, "SIZE")) {
            caps.size = true;
            // RFC 1870: "SIZE" [SP 1*DIGIT]; 0 or no number means no fixed maximum. A number
            // that does not fit is treated as no maximum rather than as a small one.
            std::uint64_t n = 0;
            bool valid = !params.empty();
            for (char c : params) {
                if (!is_digit(c) || n > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) {
                    valid = false;
                    break;
                }
                n = n * 10 + static_cast<std::uint64_t>(c - '0');
            }
            caps.max_size = valid ? n : 0;
        } else if (iequals(keyword, "8BITMIME")) {
            caps.eight_bit_mime = true;
        } else if (iequals(keyword, "SMTPUTF8")) {
            caps.smtputf8 = true;
        } else if (iequals(keyword, "CHUNKING")) {
            caps.chunking = true;
        } else if (iequals(keyword, "DSN")) {
            caps.dsn = true;
        } else if (iequals(keyword, "STARTTLS")) {
            caps.starttls = true;
        } else if (iequals(keyword, "ENHANCEDSTATUSCODES")) {
            caps.enhanced_status_codes = true;
        }
    }
    return caps;
}

}  // namespace ehlo::delivery

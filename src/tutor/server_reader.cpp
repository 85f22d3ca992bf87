#include "tutor/server_reader.hpp"

#include "smtp/text.hpp"
#include "tutor/safe_text.hpp"

namespace ehlo::tutor {

namespace {

Note server_fault(std::string title, std::string text, std::string rfc) {
    return Note{NoteKind::Mistake, std::move(title), std::move(text), std::move(rfc), std::nullopt};
}

// RFC 5321 4.2: Reply-code = %x32-35 %x30-35 %x30-39.
bool is_reply_code(std::string_view l) {
    return l.size() >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '5' && smtp::is_digit(l[2]);
}

void split_enhanced(smtp::Reply& reply) {
    if (reply.lines.empty()) return;
    const std::size_t n = enhanced_code_length(reply.lines.front(), reply.code);
    if (n == 0) return;
    reply.enhanced = reply.lines.front().substr(0, n);
    // RFC 2034 4: each line of a multiline reply carries the code; it is taken off every one.
    for (auto& line : reply.lines) {
        if (line.compare(0, n, reply.enhanced) != 0 || (line.size() > n && line[n] != ' ')) continue;
        line.erase(0, line.size() > n ? n + 1 : n);
    }
}

}  // namespace

std::size_t enhanced_code_length(std::string_view text, int code) {
    if (text.size() < 5 || text[0] != static_cast<char>('0' + code / 100) || text[1] != '.') return 0;
    std::size_t i = 2;
    for (int part = 0; part < 2; ++part) {
        const std::size_t start = i;
        while (i < text.size() && smtp::is_digit(text[i]) && i - start < 3) ++i;
        if (i == start) return 0;
        if (part == 0) {
            if (i >= text.size() || text[i] != '.') return 0;
            ++i;
        }
    }
    if (i < text.size() && text[i] != ' ') return 0;
    return i;
}

void ServerReader::feed(std::string_view bytes) {
    for (char c : bytes) {
        if (c == '\n') {
            const bool crlf = !line_.empty() && line_.back() == '\r';
            if (crlf) line_.pop_back();
            end_line(!crlf);
            continue;
        }
        if (line_.size() < kKeptReplyLine)
            line_ += c;
        else
            line_cut_ = true;
    }
}

void ServerReader::feed_line(std::string_view line) {
    line_.assign(line.substr(0, kKeptReplyLine));
    line_cut_ = line.size() > kKeptReplyLine;
    end_line(false);
}

ServerReply ServerReader::take_partial() {
    ServerReply r = std::move(pending_);
    pending_ = ServerReply{};
    return r;
}

ServerReply ServerReader::take() {
    ServerReply r = std::move(ready_.front());
    ready_.pop_front();
    return r;
}

void ServerReader::end_line(bool bare_lf) {
    const std::string line = std::move(line_);
    const bool cut = line_cut_;
    line_.clear();
    line_cut_ = false;

    auto& problems = pending_.problems;
    pending_.shown.push_back(safe_text(line) + (cut ? "..." : ""));
    if (bare_lf)
        problems.push_back(server_fault(
            "The server ended a line with a bare LF",
            "SMTP lines end with CR LF, both octets. A server that sends LF alone breaks clients that "
            "follow the standard.",
            "RFC 5321 2.3.8"));
    if (cut || line.size() + 2 > kMaxReplyLine)
        problems.push_back(server_fault("The server sent a reply line longer than 512 octets",
                                        "A reply line is at most 512 octets with its CR LF; a client may cut or refuse "
                                        "longer ones.",
                                        "RFC 5321 4.5.3.1.5"));
    if (line.find('\r') != std::string::npos)
        problems.push_back(server_fault("The server sent a bare CR",
                                        "CR may appear only right before LF. A CR alone moves a terminal's cursor back "
                                        "to the start of the line, so it is shown here as \\x0d.",
                                        "RFC 5321 2.3.8"));

    if (!is_reply_code(line) || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
        problems.push_back(server_fault(
            "This line is not an SMTP reply",
            "Every line from the server must start with a three-digit code (2 to 5, then 0 to 5, then a "
            "digit), followed by a space, a hyphen (more lines follow) or the end of the line.",
            "RFC 5321 4.2"));
        return;  // the line is shown with the reply it stands in, and is no part of it
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    const bool last = line.size() <= 3 || line[3] == ' ';
    const std::string text = line.size() > 4 ? line.substr(4) : std::string{};

    smtp::Reply& r = pending_.reply;
    if (r.lines.empty()) {
        r.code = code;
    } else if (code != r.code) {
        problems.push_back(server_fault("The reply code changed within one reply",
                                        "Every line of a multiline reply must carry the same code; this one started "
                                        "with " + std::to_string(r.code) + " and now says " + std::to_string(code) + ".",
                                        "RFC 5321 4.2.1"));
    }
    r.lines.push_back(text);
    const bool full = r.lines.size() >= kMaxReplyLines;
    if (full && !last)
        problems.push_back(server_fault("The reply is too long to follow",
                                        "After " + std::to_string(kMaxReplyLines) +
                                            " lines the tutor takes the reply as complete.",
                                        "RFC 5321 4.2.1"));
    if (last || full) {
        split_enhanced(r);
        ready_.push_back(std::move(pending_));
        pending_ = ServerReply{};
    }
}

}  // namespace ehlo::tutor

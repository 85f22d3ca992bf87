#include "tutor/transcript.hpp"

#include <array>

#include "smtp/text.hpp"
#include "tutor/safe_text.hpp"
#include "tutor/server_reader.hpp"

namespace ehlo::tutor {

namespace {

struct Mark {
    std::string_view text;
    Side side;
};

// Longest first, so that "<--" is not read as "<-" and "-".
constexpr std::array kMarks = {
    Mark{"<<<", Side::Server}, Mark{">>>", Side::Client}, Mark{"<--", Side::Server}, Mark{"-->", Side::Client},
    Mark{"<**", Side::Server}, Mark{"<~*", Side::Server}, Mark{"<-", Side::Server}, Mark{"->", Side::Client},
    Mark{"<~", Side::Server},  Mark{"~>", Side::Client},  Mark{"S:", Side::Server}, Mark{"C:", Side::Client},
};

struct Line {
    std::string_view text;
    bool marked = false;
    Side side = Side::Other;
};

Line read_mark(std::string_view line) {
    std::string_view rest = smtp::trim_blanks(line);
    for (const Mark& m : kMarks) {
        if (!smtp::istarts_with(rest, m.text)) continue;
        std::string_view text = rest.substr(m.text.size());
        // "S:" and "C:" need a space or nothing after them, so that "C:\dir" is no mark.
        if (m.text.back() == ':' && !text.empty() && text.front() != ' ') continue;
        if (m.side == Side::Server) {
            text = smtp::trim_blanks(text);
        } else {
            // Message content keeps its own leading blanks (a folded header line): only the one
            // space that follows the mark is the mark's. Trailing blanks are the line's.
            const std::size_t start = line.find(m.text) + m.text.size();
            text = line.substr(start);
            if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
        }
        return Line{text, true, m.side};
    }
    return Line{line, false, Side::Other};
}

bool looks_like_reply(std::string_view l) {
    return l.size() >= 3 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '5' && smtp::is_digit(l[2]) &&
           (l.size() == 3 || l[3] == ' ' || l[3] == '-');
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const std::size_t lf = text.find('\n');
        std::string_view line = text.substr(0, lf);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        if (lf == std::string_view::npos) break;
        text.remove_prefix(lf + 1);
    }
    while (!lines.empty() && smtp::trim_blanks(lines.back()).empty()) lines.pop_back();
    return lines;
}

// The number of leading spaces every non-empty line has.
std::size_t common_indent(const std::vector<std::string_view>& lines) {
    std::size_t indent = std::string_view::npos;
    for (std::string_view l : lines) {
        if (smtp::trim_blanks(l).empty()) continue;
        const std::size_t n = l.find_first_not_of(' ');
        if (n < indent) indent = n;
    }
    return indent == std::string_view::npos ? 0 : indent;
}

}  // namespace

std::vector<AnnotatedLine> explain_transcript(std::string_view transcript, Options options) {
    options.can_start_tls = true;
    if (transcript.size() > kMaxTranscript) transcript = transcript.substr(0, kMaxTranscript);
    std::vector<std::string_view> lines = split_lines(transcript);
    const std::size_t indent = common_indent(lines);
    bool marked = false;
    for (auto& l : lines) {
        l.remove_prefix(std::min(indent, l.size()));
        marked |= read_mark(l).marked;
    }

    Tutor tutor(options);
    ServerReader reader;
    std::vector<AnnotatedLine> out;
    bool out_of_greeting = true;  // no dialog line yet: one from the client means it began earlier
    for (std::string_view raw : lines) {
        Line line = marked ? read_mark(raw) : Line{raw, false, Side::Other};
        if (!marked) {
            // Plain form: within a message every line is the client's (a body line may well
            // start with "250 "); elsewhere the reply code tells.
            const bool in_message = tutor.state().phase == Phase::Content && !tutor.awaiting_reply();
            line.side = !in_message && looks_like_reply(raw) ? Side::Server : Side::Client;
        }
        AnnotatedLine a{line.side, safe_text(line.text), {}};
        if (line.side == Side::Client && out_of_greeting) {
            const std::string_view verb = line.text.substr(0, line.text.find(' '));
            tutor.assume_greeted(!smtp::iequals(verb, "HELO") && !smtp::iequals(verb, "EHLO"));
        }
        if (line.side != Side::Other) out_of_greeting = false;
        if (line.side == Side::Client) {
            a.notes = tutor.typed(line.text).notes;
        } else if (line.side == Side::Server) {
            reader.feed_line(line.text);
            while (reader.has_reply()) {
                ServerReply r = reader.take();
                a.notes.insert(a.notes.end(), r.problems.begin(), r.problems.end());
                if (r.reply.lines.empty()) continue;
                auto explained = tutor.replied(r.reply);
                a.notes.insert(a.notes.end(), explained.begin(), explained.end());
            }
        }
        out.push_back(std::move(a));
    }
    if (reader.partial()) {
        ServerReply r = reader.take_partial();
        if (out.empty()) out.push_back(AnnotatedLine{});
        auto& notes = out.back().notes;
        notes.insert(notes.end(), r.problems.begin(), r.problems.end());
        notes.push_back(Note{NoteKind::Mistake, "The last reply is unfinished",
                             "Its last line would have a space after the code (\"250 ...\"), not a hyphen; the "
                             "transcript ends before it.",
                             "RFC 5321 4.2.1", std::nullopt});
    }
    return out;
}

}  // namespace ehlo::tutor

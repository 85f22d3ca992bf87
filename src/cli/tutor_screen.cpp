#include "cli/tutor_screen.hpp"

#include <string>

namespace ehlo::cli {

namespace {

constexpr std::size_t kWidth = 78;          // a classic terminal, less a margin
constexpr std::string_view kIndent = "          ";  // text under a note's label

struct Label {
    std::string_view text;
    std::string_view sgr;  // ECMA-48 Select Graphic Rendition parameters
};

Label label(tutor::NoteKind kind) {
    switch (kind) {
        case tutor::NoteKind::Reply: return {"reply ", "36"};
        case tutor::NoteKind::Code: return {"code  ", "2"};
        case tutor::NoteKind::Mistake: return {"oops  ", "1;31"};
        case tutor::NoteKind::Hint: return {"hint  ", "33"};
        case tutor::NoteKind::Suggestion: return {"next  ", "32"};
        case tutor::NoteKind::Result: return {"done  ", "1;32"};
    }
    return {"      ", "0"};
}

}  // namespace

std::string TutorScreen::paint(std::string_view sgr, std::string_view text) const {
    if (!color_) return std::string(text);
    return "\x1b[" + std::string(sgr) + "m" + std::string(text) + "\x1b[0m";
}

void TutorScreen::server_line(std::string_view shown) { out_ << paint("1;34", "S: ") << shown << "\n"; }

void TutorScreen::client_line(std::string_view shown) { out_ << paint("1;35", "C: ") << shown << "\n"; }

void TutorScreen::other_line(std::string_view shown) { out_ << "   " << paint("2", shown) << "\n"; }

void TutorScreen::prompt() {
    out_ << paint("1;35", "C: ");
    out_.flush();
}

void TutorScreen::say(std::string_view text) {
    if (text.empty())
        out_ << "\n";
    else
        wrapped(text, "", "");
    out_.flush();
}

void TutorScreen::echo(std::string_view shown) {
    out_ << shown << "\n";
    out_.flush();
}

// Each paragraph ('\n' separates them) word-wrapped under the label; `tail` (the RFC) is kept
// whole and goes after the last word.
void TutorScreen::wrapped(std::string_view text, std::string_view tail, std::string_view indent) {
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const bool last_paragraph = end == text.size();
        std::string_view paragraph = text.substr(start, end - start);
        std::vector<std::string> words;
        while (!paragraph.empty()) {
            const std::size_t sp = paragraph.find(' ');
            if (sp != 0) words.emplace_back(paragraph.substr(0, sp));
            if (sp == std::string_view::npos) break;
            paragraph.remove_prefix(sp + 1);
        }
        if (last_paragraph && !tail.empty()) words.emplace_back(tail);
        std::string line(indent);
        bool empty = true;
        for (const auto& w : words) {
            if (!empty && line.size() + 1 + w.size() > kWidth) {
                out_ << line << "\n";
                line = indent;
                empty = true;
            }
            if (!empty) line += ' ';
            line += w;
            empty = false;
        }
        if (!empty) out_ << line << "\n";
        start = end + 1;
    }
}

void TutorScreen::note(const tutor::Note& n) {
    const Label l = label(n.kind);
    out_ << "   " << paint(l.sgr, l.text) << " " << (n.kind == tutor::NoteKind::Mistake ? paint("1", n.title) : n.title)
         << "\n";
    wrapped(n.text, n.rfc.empty() ? std::string{} : "[" + n.rfc + "]", kIndent);
    if (n.line) {
        const std::string_view mark = n.kind == tutor::NoteKind::Result ? "$ " : "> ";
        out_ << kIndent << mark << (n.line->empty() ? paint("2", "(an empty line: just press Enter)") : paint("1", *n.line))
             << "\n";
    }
}

void TutorScreen::notes(const std::vector<tutor::Note>& notes) {
    for (const auto& n : notes) note(n);
}

}  // namespace ehlo::cli

// How `ehlo tutor` lays the tutor's notes out in a terminal: the dialog's lines as "S:" and
// "C:", each note under them with a label, wrapped to the width of a classic terminal.
// Everything shown here has been through tutor::safe_text() already.
#pragma once

#include <ostream>
#include <string_view>
#include <vector>

#include "tutor/note.hpp"

namespace ehlo::cli {

class TutorScreen {
public:
    TutorScreen(std::ostream& out, bool color) : out_(out), color_(color) {}

    void server_line(std::string_view shown);
    void client_line(std::string_view shown);
    void other_line(std::string_view shown);   // a transcript's line that is neither side's
    void note(const tutor::Note& note);
    void notes(const std::vector<tutor::Note>& notes);
    void say(std::string_view text);           // the tutor's own words (start, end)
    void prompt();                             // "C: ", before the person types
    void echo(std::string_view shown);         // a line read from a pipe, after its prompt
    void flush() { out_.flush(); }

private:
    std::string paint(std::string_view sgr, std::string_view text) const;
    void wrapped(std::string_view text, std::string_view tail, std::string_view indent);

    std::ostream& out_;
    bool color_;
};

}  // namespace ehlo::cli

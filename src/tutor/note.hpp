// What the tutor says: notes as data, so that the terminal (`ehlo tutor`) and the console page
// ("Talk SMTP") show the same words and only lay them out differently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::tutor {

enum class NoteKind : std::uint8_t {
    Reply,       // what a server reply means at this point of the dialog
    Code,        // the reply code's class and its enhanced status code, decoded
    Mistake,     // something went wrong (or is about to), and why
    Hint,        // worth knowing here: the extensions offered, the lone dot, ...
    Suggestion,  // what to type next, with an example line
    Result,      // the message was queued: its id and how to follow it
};

// "reply", "code", "mistake", "hint", "suggestion", "result": for JSON and CSS classes.
std::string_view kind_name(NoteKind kind);

struct Note {
    NoteKind kind = NoteKind::Hint;
    std::string title;  // one short line
    std::string text;   // plain sentences; '\n' separates the items of a list
    std::string rfc;    // where it is defined: "RFC 5321 4.1.1.2"; empty when nowhere
    // A line to type, verbatim: the next command, a corrected command, or (in a Result note)
    // the shell command that follows the message. An empty string is the blank line that
    // separates header and body; no value means nothing to type.
    std::optional<std::string> line;

    bool operator==(const Note&) const = default;
};

// Every piece of peer text in a note's title and text has been through safe_text()
// (safe_text.hpp): a note can go to a terminal as it is, and to a page once HTML-escaped.

}  // namespace ehlo::tutor

// A dialog that already happened, annotated line by line: `ehlo tutor --explain` reads one
// pasted from a terminal, a log, an RFC or a swaks run, and the tutor explains it as if it
// had watched it live.
//
// The forms understood, one per transcript:
// - plain, as typed at telnet (README's first dialog): a line that starts with a reply code
//   (2-5, 0-5, a digit, then SP, "-" or the end) is the server's; every other line is the
//   client's, and between a 354 and the lone dot every line is message content;
// - marked, as RFCs write it ("S: 220 ...", "C: EHLO ...") and as tools print it: "<<<" / ">>>",
//   "<-" / "->", "<--" / "-->", swaks' "<~" / "~>" (in TLS) and "<**" (an error reply); lines
//   without a mark (swaks' "===" and "***" notes, comments) are shown and not explained.
// Indentation common to all lines (a transcript pasted from a document) is taken off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tutor/note.hpp"
#include "tutor/tutor.hpp"

namespace ehlo::tutor {

// A transcript longer than this is explained up to here (a dialog, not a mailbox).
inline constexpr std::size_t kMaxTranscript = 1u << 20;

enum class Side : std::uint8_t { Client, Server, Other };

struct AnnotatedLine {
    Side side = Side::Other;
    std::string shown;        // the line without its mark, through safe_text()
    std::vector<Note> notes;  // what the tutor says after this line (no suggestions)
};

// `options.can_start_tls` is taken as set: a transcript goes on after STARTTLS' 220.
std::vector<AnnotatedLine> explain_transcript(std::string_view transcript, Options options = {});

}  // namespace ehlo::tutor

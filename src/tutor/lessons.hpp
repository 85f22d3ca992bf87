// Inside the tutor: the pieces tutor.cpp puts together. Not for callers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.hpp"
#include "tutor/tutor.hpp"

namespace ehlo::tutor::lessons {

using Asked = Tutor::Asked;
using Flaw = Tutor::Flaw;
using Pending = Tutor::Pending;

Note note(NoteKind kind, std::string title, std::string text, std::string rfc = {});
Note note_with_line(NoteKind kind, std::string title, std::string text, std::string rfc, std::string line);

// codes.cpp: the tables. The code's class and the enhanced code in words (a Code note).
Note explain_code(const smtp::Reply& reply);
// RFC 5321 4.2.2's words for a reply code ("Requested mail action okay, completed"), or "".
std::string_view code_meaning(int code);
// An EHLO keyword in plain words ("SIZE 26214400" -> "messages up to 25 MiB (RFC 1870)"); ""
// for a keyword the tutor does not know.
std::string extension_words(std::string_view keyword, std::string_view params);

// commands.cpp: a command line before it is sent: what it asks and its flaws. `send` is set
// to false for a line that must not go out.
Pending check_command(std::string_view line, const DialogState& state, const Options& options,
                      std::vector<Note>& notes, bool& send);
// A line of message content (Phase::Content) before it is sent; true when the line ends the
// header section (the empty line, or a line that is no header field: the body has begun).
bool check_content(std::string_view line, const DialogState& state, std::vector<Note>& notes);

// replies.cpp: what `reply` to `asked` means here (a Reply note, and a Mistake note when it
// shows one of the person's mistakes).
void explain_reply(const Pending& asked, const smtp::Reply& reply, const DialogState& state,
                   const Options& options, std::vector<Note>& notes);
// The EHLO reply's extensions, one per line, and what the tutor learnt from them.
Note explain_extensions(const smtp::Reply& reply, Extensions& learnt);
// The queue id of "250 2.0.0 Ok: queued as ID" (also "id=ID"), or "".
std::string queue_id(const smtp::Reply& reply);

// suggest.cpp: what to type next.
Note suggest(const DialogState& state, const Options& options, Asked last_asked, int last_code);

// Example lines.
std::string mail_line(std::string_view address);
std::string rcpt_line(std::string_view address);

}  // namespace ehlo::tutor::lessons

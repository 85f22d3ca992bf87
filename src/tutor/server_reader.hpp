// The server's side of a dialog, from bytes (a live connection) or from lines (a pasted
// transcript) to whole replies, as RFC 5321 4.2 and 4.2.1 define them. Unlike the delivery
// client's strict reader, this one keeps going after a fault and says what the fault was:
// a person learning SMTP against a broken server should see the break explained, not a
// dead connection. Bounded all the same: one line and one reply have hard limits.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/reply.hpp"
#include "tutor/note.hpp"

namespace ehlo::tutor {

// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with its CRLF. Longer lines are
// noted, and kept up to this many octets (a generous server's text is still worth showing).
inline constexpr std::size_t kMaxReplyLine = 512;
inline constexpr std::size_t kKeptReplyLine = 2048;
// Lines of one reply (RFC 5321 sets no number; a real EHLO reply has a dozen).
inline constexpr std::size_t kMaxReplyLines = 100;

struct ServerReply {
    smtp::Reply reply;                // the code, the enhanced code split off, the texts
    std::vector<std::string> shown;   // the lines as received, each through safe_text()
    std::vector<Note> problems;       // where the server broke the grammar, as Mistake notes
};

class ServerReader {
public:
    // Bytes from the connection, in any pieces. Lines end with CRLF (RFC 5321 2.3.8); a bare
    // LF also ends one, with a note.
    void feed(std::string_view bytes);
    // One line without its line ending (a transcript).
    void feed_line(std::string_view line);

    // The next complete reply, oldest first.
    bool has_reply() const { return !ready_.empty(); }
    ServerReply take();
    // A reply was started but its last line ("250 ...", not "250-...") has not come.
    bool partial() const { return !pending_.shown.empty(); }
    // What there is of an unfinished reply, when no more will come (the connection closed):
    // its lines and problems to show; its `reply` is not one.
    ServerReply take_partial();

private:
    void end_line(bool bare_lf);

    std::string line_;
    bool line_cut_ = false;
    ServerReply pending_;
    std::deque<ServerReply> ready_;
};

// An RFC 3463 enhanced status code at the start of a reply text ("5.1.1 ..."), whose class is
// the reply's class (RFC 2034 4); its length, or 0 when there is none.
std::size_t enhanced_code_length(std::string_view text, int code);

}  // namespace ehlo::tutor

// The dialog of one SMTP session, commands and replies (never message content), kept in the
// history beside the messages the session brought. The session owns one Transcript, feeds it
// every line from its trace hook, and hands finish() to the history in its SessionEnd event.
//
// Mode `errors` (the default) keeps the transcript of a session that had any 4xx or 5xx reply
// and forgets the others, so a troubled client can be looked at afterwards without storing the
// dialogs of every healthy one. The buffer has a size cap: a session that talks for hours
// costs at most that much memory, and the transcript says how much it left out.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::observe {

enum class TranscriptMode { Off, Errors, All };

std::optional<TranscriptMode> transcript_mode_from_string(std::string_view word);  // "off", "errors", "all"

class Transcript {
public:
    static constexpr std::size_t kDefaultMaxBytes = 64 * 1024;

    explicit Transcript(TranscriptMode mode, std::size_t max_bytes = kDefaultMaxBytes);

    // A command line received (without CRLF) or one line of a reply sent, as
    // smtp::SessionHost::trace gives them.
    void add(bool from_client, std::string_view line);

    bool had_error() const { return had_error_; }

    // The text to keep ("C: EHLO x\nS: 250 ..."), or "" when the mode says not to keep it.
    // Leaves the transcript empty.
    std::string finish();

private:
    void append(std::string_view prefix, std::string_view line);

    TranscriptMode mode_;
    std::size_t max_bytes_;
    std::string text_;
    std::size_t omitted_ = 0;
    bool had_error_ = false;
    bool expect_credentials_ = false;  // the last reply was 334: the next line is an AUTH response
};

}  // namespace ehlo::observe

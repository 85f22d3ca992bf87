#include "observe/transcript.hpp"

#include "observe/history_event.hpp"

namespace ehlo::observe {
namespace {

// What stands for credentials in a kept transcript: an AUTH initial response (RFC 4954 4)
// and every line answering a 334 challenge carry secrets, encoded but not hidden.
constexpr std::string_view kNotKept = "[credentials not kept]";

bool iequals_prefix(std::string_view line, std::string_view prefix) {
    if (line.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = line[i];
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        if (c != prefix[i]) return false;
    }
    return true;
}

}  // namespace

std::optional<TranscriptMode> transcript_mode_from_string(std::string_view word) {
    if (word == "off") return TranscriptMode::Off;
    if (word == "errors") return TranscriptMode::Errors;
    if (word == "all") return TranscriptMode::All;
    return std::nullopt;
}

Transcript::Transcript(TranscriptMode mode, std::size_t max_bytes) : mode_(mode), max_bytes_(max_bytes) {}

void Transcript::append(std::string_view prefix, std::string_view line) {
    if (omitted_ > 0 || text_.size() + prefix.size() + line.size() + 1 > max_bytes_) {
        ++omitted_;
        return;
    }
    if (!text_.empty()) text_ += '\n';
    text_ += prefix;
    text_ += line;
}

void Transcript::add(bool from_client, std::string_view line) {
    if (mode_ == TranscriptMode::Off) return;
    if (from_client) {
        if (expect_credentials_) {
            expect_credentials_ = false;
            append("C: ", kNotKept);
        } else if (iequals_prefix(line, "AUTH ")) {
            // "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=": the mechanism stays, the response goes.
            const std::size_t mechanism_end = line.find(' ', 5);
            if (mechanism_end == std::string_view::npos) {
                append("C: ", line);
            } else {
                append("C: ", std::string(line.substr(0, mechanism_end + 1)) + std::string(kNotKept));
            }
        } else {
            append("C: ", line);
        }
        return;
    }
    const int code = reply_code(line);
    if (code >= 400) had_error_ = true;
    expect_credentials_ = code == 334;
    append("S: ", line);
}

std::string Transcript::finish() {
    std::string out;
    const bool keep = mode_ == TranscriptMode::All || (mode_ == TranscriptMode::Errors && had_error_);
    if (keep) {
        out = std::move(text_);
        if (omitted_ > 0) out += "\n[" + std::to_string(omitted_) + " more lines not kept]";
    }
    text_.clear();
    omitted_ = 0;
    had_error_ = false;
    expect_credentials_ = false;
    return out;
}

}  // namespace ehlo::observe

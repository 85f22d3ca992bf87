// Fuzz target for local submission's untrusted inputs: a maildrop file as any local user may
// write it (queue/maildrop.hpp, read by the daemon's pickup), and what a program gives
// `sendmail -t` on standard input (smtp/local_submission.hpp). The run fails (abort) when
//   - a file that parses does not serialize back to the same bytes, or its content holds a
//     bare CR or LF (the spool must get what SMTP would carry);
//   - a refusal comes without a reason;
//   - the message sendmail makes of an input has a bare CR or LF, lacks From, Date or
//     Message-ID, or keeps a Bcc field under -t;
//   - or ASan/UBSan find anything (libFuzzer build).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "queue/maildrop.hpp"
#include "smtp/local_submission.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

bool crlf_only(std::string_view s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
    }
    return true;
}

// The header section of a CRLF message, each field starting on a line of its own.
std::string header_section(const std::string& m) {
    const std::size_t end = m.find("\r\n\r\n");
    return "\r\n" + (end == std::string::npos ? m : m.substr(0, end + 2));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    const ehlo::queue::MaildropLimits limits{4096, 20};
    auto parsed = ehlo::queue::parse_maildrop(input, limits);
    if (auto* entry = std::get_if<ehlo::queue::MaildropEntry>(&parsed)) {
        check(ehlo::queue::serialize_maildrop(*entry) == input);
        check(crlf_only(entry->content));
        check(!entry->recipients.empty() && entry->recipients.size() <= limits.max_recipients);
    } else {
        check(!std::get<std::string>(parsed).empty());
    }

    ehlo::smtp::LocalHeaders h;
    h.from = "alice@host.example";
    h.full_name = std::string(input.substr(0, 16));  // a display name from outside too
    h.date = "Thu, 03 Dec 2026 10:00:00 +0000";
    h.message_id = "<x@host.example>";
    h.extract_recipients = true;
    const auto in = ehlo::smtp::local_input(input, true, 8192);
    if (in.truncated) return 0;
    const auto message = ehlo::smtp::complete_local_message(in.content, h);
    check(crlf_only(message.content));
    const std::string headers = header_section(message.content);
    auto has_field = [&](std::string_view name) {
        for (std::size_t at = headers.find("\r\n"); at != std::string::npos; at = headers.find("\r\n", at + 2)) {
            std::string_view rest = std::string_view(headers).substr(at + 2);
            if (rest.size() > name.size() && rest[name.size()] == ':' &&
                std::equal(name.begin(), name.end(), rest.begin(),
                           [](char a, char b) { return (a | 0x20) == (b | 0x20); }))
                return true;
        }
        return false;
    };
    check(has_field("From") && has_field("Date") && has_field("Message-ID"));
    check(!has_field("Bcc"));
    return 0;
}

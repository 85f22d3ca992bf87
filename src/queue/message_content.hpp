// What the queue needs to know about a message's content (CRLF lines, as spooled): its header
// section, for loop detection (RFC 5321 6.3), for DSNs and for `ehlo queue show`; whether it
// has 8-bit octets; and the content itself read back from the spool.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace ehlo::queue {

// Header fields named "Received" (case-insensitive; RFC 5322 4.5.8 allows space before the
// colon) in the header section. Continuation lines are part of their field and never counted.
std::size_t count_received(std::string_view content);

// The whole content of spool file `path`.
std::error_code read_spool_text(const std::filesystem::path& path, std::string& out);
// Its header section, reading no further than needed; at most `limit` octets of it.
std::error_code read_spool_header_section(const std::filesystem::path& path, std::string& out, std::size_t limit);

}  // namespace ehlo::queue

// Times as people read them in `ehlo trace` and the console: local time with its UTC offset,
// and the --since forms a person types ("2h", "2024-05-01 14:00").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ehlo::observe {

// "2024-05-01 14:03:12.345 +0200", in the process's time zone (TZ).
std::string local_timestamp(std::int64_t unix_us);
// "2024-05-01T14:03:12.345+02:00" (RFC 3339), for JSON.
std::string local_rfc3339(std::int64_t unix_us);
// "14:05" when on the same local day as `now_us`, else "2024-05-02 14:05".
std::string local_clock(std::int64_t unix_us, std::int64_t now_us);
// "350 ms", "2.1 s", "3 min 20 s".
std::string duration_text(std::int64_t us);

// The start of a --since window: "90s", "30m", "2h", "7d", "1w" before `now_us`, or a local
// date and time "2024-05-01", "2024-05-01 14:00", "2024-05-01T14:00:30", with a trailing "Z"
// for UTC. Empty if `text` is none of these.
std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now_us);

}  // namespace ehlo::observe

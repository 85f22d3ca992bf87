// Queue ids: 16 characters of Crockford's base32 alphabet (0-9, A-Z without I, L, O, U).
// The first 11 encode the arrival time in microseconds since the epoch, the last 5 a
// process-wide counter, so ids sort by arrival, differ between threads even within one
// microsecond, and differ across restarts because time has moved on.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace ehlo::queue {

inline constexpr std::size_t kQueueIdLength = 16;

// The id for an arrival time and a counter value (only its low 25 bits are used).
std::string make_queue_id(std::uint64_t arrival_unix_us, std::uint32_t counter);
bool is_valid_queue_id(std::string_view id);
// The arrival time encoded in a valid id.
std::uint64_t queue_id_time(std::string_view id);

class QueueIdGenerator {
public:
    std::string next(std::uint64_t arrival_unix_us) {
        return make_queue_id(arrival_unix_us, counter_.fetch_add(1, std::memory_order_relaxed));
    }

private:
    std::atomic<std::uint32_t> counter_{0};
};

}  // namespace ehlo::queue

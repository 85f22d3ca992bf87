#include "queue/queue_id.hpp"

namespace ehlo::queue {
namespace {

// In ASCII order, so that comparing ids as strings compares the numbers they encode.
constexpr std::string_view kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t kTimeDigits = 11;   // 55 bits of microseconds: more than a thousand years
constexpr std::size_t kCounterDigits = 5;  // 25 bits
static_assert(kTimeDigits + kCounterDigits == kQueueIdLength);

void encode(std::uint64_t value, char* out, std::size_t digits) {
    for (std::size_t i = digits; i-- > 0;) {
        out[i] = kAlphabet[value & 31u];
        value >>= 5;
    }
}

}  // namespace

std::string make_queue_id(std::uint64_t arrival_unix_us, std::uint32_t counter) {
    std::string id(kQueueIdLength, '0');
    encode(arrival_unix_us, id.data(), kTimeDigits);
    encode(counter, id.data() + kTimeDigits, kCounterDigits);
    return id;
}

bool is_valid_queue_id(std::string_view id) {
    if (id.size() != kQueueIdLength) return false;
    for (char c : id)
        if (kAlphabet.find(c) == std::string_view::npos) return false;
    return true;
}

std::uint64_t queue_id_time(std::string_view id) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < kTimeDigits && i < id.size(); ++i) {
        auto digit = kAlphabet.find(id[i]);
        value = (value << 5) | (digit == std::string_view::npos ? 0 : digit);
    }
    return value;
}

}  // namespace ehlo::queue

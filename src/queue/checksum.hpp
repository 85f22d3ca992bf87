// CRC-32C (Castagnoli), the checksum of spool records: it tells a record that was written
// whole from one torn by a crash, or from bytes that were never ours.
#pragma once

#include <cstdint>
#include <string_view>

namespace ehlo::queue {

// Continues a running checksum: crc32c(b, crc32c(a)) == crc32c(a + b); start from 0.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

}  // namespace ehlo::queue

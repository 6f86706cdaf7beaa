// store/crc32c.h (private)
//
// CRC-32C (Castagnoli), the checksum of the journal's frames: the SSE4.2
// instruction where the CPU has it, a table otherwise. Same values as
// leveldb's crc32c::Value and iSCSI's.
#pragma once

#include <cstddef>
#include <cstdint>

namespace es::store {

// The CRC-32C of `n` bytes at `data`, continuing `crc` (0 to start).
std::uint32_t crc32c(const void* data, std::size_t n, std::uint32_t crc = 0);

}  // namespace es::store

// es/uuid.h
//
// Event ids: 16 bytes. New ids are UUIDv7 (RFC 9562): 48 bits of Unix
// milliseconds, then random bits, so ids sort by creation time.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "es/result.h"

namespace es {

struct Uuid {
  std::array<std::uint8_t, 16> bytes{};

  static Uuid v7();
  // The id of a copy of event `source` into stream `stream`: a UUIDv8 that
  // keeps the source's first 48 bits (a v7 id's time, so copies sort as
  // their sources) and fills the rest from a BLAKE2b hash of the source id
  // and the stream. The same copy always gets the same id, so copying again
  // is idempotent.
  static Uuid copy_of(const Uuid& source, std::string_view stream);
  // Accepts the canonical 8-4-4-4-12 hex form, either case.
  static Result<Uuid> parse(std::string_view text);
  std::string to_string() const;  // lower-case canonical form
  bool is_nil() const;
  friend bool operator==(const Uuid&, const Uuid&) = default;
};

// For hash tables of ids. Ids come from clients (any 16 bytes but nil), so
// both halves are mixed through a 64-bit finalizer: sequential ids made by
// hand spread as well as random ones. `seed` lets a table that must resist
// chosen ids (an open-addressing one) pick its own.
inline std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline std::uint64_t hash_uuid(const Uuid& u, std::uint64_t seed = 0) {
  std::uint64_t a, b;
  std::memcpy(&a, u.bytes.data(), 8);
  std::memcpy(&b, u.bytes.data() + 8, 8);
  return mix64(a ^ mix64(b ^ seed));
}
struct UuidHash {
  std::size_t operator()(const Uuid& u) const noexcept {
    return static_cast<std::size_t>(hash_uuid(u));
  }
};

}  // namespace es

// es/uuid.h
//
// Event ids: 16 bytes. New ids are UUIDv7 (RFC 9562): 48 bits of Unix
// milliseconds, then random bits, so ids sort by creation time.
#pragma once

#include <array>
#include <cstdint>
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

}  // namespace es

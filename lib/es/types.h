// es/types.h
//
// The vocabulary of the store: positions, versions, expectations, limits.
//   Position: global, assigned at commit, starts at 1, gapless, strictly
//             increasing in commit order. 0 means "before the first event".
//   Version:  per stream, starts at 0, gapless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "es/result.h"

namespace es {

using Position = std::uint64_t;
using Version = std::uint64_t;

// Documented limits (es(1), "LIMITS"). Everything from the network is
// checked against these before it is stored.
inline constexpr std::size_t kMaxNameBytes = 255;            // stream and type
inline constexpr std::size_t kMaxDataBytes = 1u << 20;       // 1 MiB of JSON
inline constexpr std::size_t kMaxMetadataBytes = 64u << 10;  // 64 KiB
inline constexpr int kMaxJsonDepth = 64;
inline constexpr std::size_t kMaxAppendEvents = 100'000;
inline constexpr std::size_t kMaxAppendBytes = 32u << 20;  // 32 MiB
inline constexpr std::size_t kMaxFrameBytes = 48u << 20;   // ZMQ_MAXMSGSIZE
inline constexpr std::size_t kMaxReadLimit = 10'000;       // events per reply
inline constexpr std::size_t kMaxReplyBytes = 8u << 20;    // soft cap per reply

// What an append expects of its stream before it writes.
class ExpectedVersion {
 public:
  enum class Kind : std::uint8_t { kAny = 0, kNoStream = 1, kExists = 2, kExact = 3 };

  static ExpectedVersion any() { return {Kind::kAny, 0}; }
  static ExpectedVersion no_stream() { return {Kind::kNoStream, 0}; }
  static ExpectedVersion exists() { return {Kind::kExists, 0}; }
  static ExpectedVersion exact(Version v) { return {Kind::kExact, v}; }
  // Parses "any", "no-stream", "exists" or a version number.
  static Result<ExpectedVersion> parse(std::string_view text);

  Kind kind() const { return kind_; }
  Version version() const { return version_; }
  // "any", "no-stream", "exists" or the number.
  std::string to_string() const;
  // Whether a stream whose last version is `actual` (nullopt: no stream)
  // satisfies this expectation.
  bool admits(std::optional<Version> actual) const;

  ExpectedVersion() = default;

 private:
  ExpectedVersion(Kind k, Version v) : kind_(k), version_(v) {}
  Kind kind_ = Kind::kAny;
  Version version_ = 0;
};

// The category of a stream: its name up to the first '-' ("order-42" ->
// "order"); a name without '-' is its own category.
std::string_view category_of(std::string_view stream);

bool is_valid_utf8(std::string_view s);

// A new name (stream, type, subscription, group, projection...):
// 1..kMaxNameBytes bytes of UTF-8 without control or format characters
// (Cc, Cf: bidirectional controls, zero-width characters...) or line and
// paragraph separators; the error names the code point and its byte.
Status validate_name(std::string_view what, std::string_view name);
// A name stored before the rule above (copied by a replica, read back):
// 1..kMaxNameBytes bytes of UTF-8 without C0 controls or DEL.
Status validate_stored_name(std::string_view what, std::string_view name);
// A name looked up (a read, a filter): at most kMaxNameBytes bytes, checked
// before it is used or echoed.
Status validate_lookup_name(std::string_view what, std::string_view name);

}  // namespace es

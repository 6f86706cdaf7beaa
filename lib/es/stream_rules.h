// es/stream_rules.h
//
// A stream's lifecycle: deletion and retention, as its metadata stream
// "$$<stream>" records them. Every change is an event there, written by the
// node for an admin (es delete, es retention), and it carries the stream's
// whole rule set after the change, so that the last event of "$$S" alone
// says what holds for S:
//   $metadata   retention changed: {"max_count":N,"max_age":S,"truncate_before":V}
//   $deleted    soft delete: truncate_before is the stream's next version, so
//               it reads as gone and is written again from there on
//   $tombstone  hard delete: {"tombstone":true,...}: never written again
// Each member is optional. An event of S is visible while its version is at
// least truncate_before, it is among the max_count last, and it is younger
// than max_age seconds (by its commit time); a tombstoned stream shows
// nothing. Reads apply the rules at once; the node then removes what they
// hide (store.h: holes keep the positions and the chain).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "es/event.h"
#include "es/result.h"

namespace es {

inline constexpr std::string_view kMetadataPrefix = "$$";
inline constexpr std::string_view kMetadataType = "$metadata";
inline constexpr std::string_view kDeletedType = "$deleted";
inline constexpr std::string_view kTombstoneType = "$tombstone";

struct StreamRules {
  std::optional<Version> truncate_before;
  std::optional<std::uint64_t> max_count;  // at least 1
  std::optional<std::int64_t> max_age_s;   // at least 1
  bool tombstone = false;

  bool empty() const { return !truncate_before && !max_count && !max_age_s && !tombstone; }
  bool operator==(const StreamRules&) const = default;

  // The first version a read may show, for a stream whose last version is
  // `last` (age aside).
  Version visible_from(Version last) const;
  // Whether the stream reads as gone: tombstoned, or truncated past `last`.
  bool deleted(Version last) const { return tombstone || visible_from(last) > last; }
  // Events committed before this time (microseconds) are hidden; 0: none.
  std::int64_t expired_before_us(std::int64_t now_us) const;
  // Whether the event `e` of a stream at `last` is visible at `now_us`.
  bool shows(const RecordedEvent& e, Version last, std::int64_t now_us) const;
};

// Whether `stream` is a metadata stream ("$$..."), and the one of `stream`.
bool is_metadata_stream(std::string_view stream);
std::string metadata_stream_of(std::string_view stream);
// The stream a metadata stream is about ("$$order-1" -> "order-1").
std::string_view target_of(std::string_view metadata_stream);
// Whether `type` is one of the three lifecycle types above.
bool is_lifecycle_type(std::string_view type);

// The data of a lifecycle event, canonical JSON (only the members set).
std::string rules_json(const StreamRules& rules);
// Parses it back; errors name what is wrong (unknown member, bad number).
Result<StreamRules> parse_rules(std::string_view json);
// `rules` with the members of the JSON object `patch` changed: a number
// sets one, null clears it (es retention). A tombstone is not patched.
Result<StreamRules> patch_rules(StreamRules rules, std::string_view patch);
// The rules an event of a metadata stream sets, checked against its type.
Result<StreamRules> rules_of(const RecordedEvent& e);
Result<StreamRules> rules_of(std::string_view type, std::string_view data);

}  // namespace es

// es/json.h
//
// JSON at the edges. Event data and metadata are stored as JSON text that
// passed canonical_json(): valid UTF-8, one value, nesting bounded, numbers
// kept exactly as written, white space removed. Output is written by hand
// (append_*), one event per line, for NDJSON consumers such as jq.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "es/event.h"
#include "es/result.h"

namespace es {

enum class JsonShape { kAnyValue, kObject };

// Validates `text` as one JSON value (an object for kObject) of at most
// `max_bytes` bytes and kMaxJsonDepth levels, and returns it minified.
// `what` names the field in errors ("data", "metadata").
Result<std::string> canonical_json(std::string_view text, std::string_view what,
                                   std::size_t max_bytes, JsonShape shape = JsonShape::kAnyValue);

// Whether `text` is already what canonical_json() would return for it (and
// so valid JSON, of the shape, within kMaxJsonDepth): one pass, no copy.
// What es clients send is, so the server canonicalizes only what is not.
bool is_canonical_json(std::string_view text, JsonShape shape = JsonShape::kAnyValue);

// Checks only that `text` nests no deeper than `max_depth` (it need not be
// valid JSON otherwise). Lets a caller bound a DOM parse before doing it.
bool json_depth_within(std::string_view text, int max_depth);

// The fields of one event written as a JSON object (an NDJSON input line):
// strings for stream, type and id; JSON text (canonical, as canonical_json
// makes it) for data and metadata. Absent fields stay empty, and so do null
// stream, type, id and metadata (a null data is the JSON text "null").
// `expect` is an expected version as written: a string (any, no-stream,
// exists) or a number's digits. The other members of an `es read` line
// (position, version, time) are skipped; any other key is listed in
// `unknown_keys` (the caller refuses them: a typo must not drop a field).
struct EventFields {
  std::optional<std::string> stream, type, id, data, metadata, expect;
  std::vector<std::string> unknown_keys;
};
// Every key an event line may have, in the order `es read` prints them,
// and then "expect".
const std::vector<std::string>& event_line_keys();
Result<EventFields> parse_event_fields(std::string_view line);

// Appends `s` as a JSON string literal (with quotes).
void append_json_string(std::string& out, std::string_view s);

// "2026-11-22T23:59:59.123456Z"
std::string format_time_us(std::int64_t time_us);
std::int64_t now_us();

// Appends one event as a JSON object (no newline).
void append_event_json(std::string& out, const RecordedEvent& e);

}  // namespace es

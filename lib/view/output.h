// lib/view/output.h
//
// How results look, shared by es (its NDJSON lines and -o text) and esd's
// dashboard API (the same JSON objects): an event, a write's result, a
// stream, a node's status. Each is one JSON object on one line, or
// "key: value" lines for text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "es/event.h"

#include "protocol/messages.h"

namespace es::view {

std::string event_line(const es::RecordedEvent& e, bool text);
std::string written_line(const es::StreamWritten& w, bool text);
std::string stream_line(const es::StreamInfo& s);  // JSON

// Milliseconds as a node reports them (-1: never, as before a first contact)
// in seconds; nullopt for never.
std::optional<double> seconds_ago(std::int64_t ms);

// A time in text: ISO 8601 UTC, "-" for none (0 or less).
std::string text_time_us(std::int64_t us);

class ObjectWriter;
// A read node's link to its source (es status, es nodes): source,
// source_state, source_since, source_head, source_contact_s, lag_events
// (null: unknown) and source_error.
void add_source_fields(ObjectWriter& w, const es::protocol::StatusReply& s);

// One partition of a projection: {"key":K,"state":S} (S is JSON already),
// as es state, es replay and the dashboard give it.
std::string partition_line(std::string_view key, std::string_view state);

// A JSON object with the fields of `extra` (an object too) added at its end.
std::string with_fields(std::string object, const ObjectWriter& extra);

// A node's status as `es status` shows it.
std::string status_line(const es::protocol::StatusReply& s, bool text);

// A flat JSON object built field by field, or "key: value" lines for text,
// the values in one column.
class ObjectWriter {
 public:
  explicit ObjectWriter(bool text) : text_(text) {}
  ObjectWriter& field(std::string_view key, std::string_view value);
  ObjectWriter& field(std::string_view key, std::uint64_t value);
  ObjectWriter& field(std::string_view key, double value);
  ObjectWriter& field(std::string_view key, bool value);
  // A time: microseconds since the epoch in JSON, ISO 8601 UTC in text ("-"
  // for none, 0 or less).
  ObjectWriter& time_us(std::string_view key, std::int64_t us);
  // Seconds (3 decimals), or null (text: "-") when unknown.
  ObjectWriter& field(std::string_view key, std::optional<double> seconds);
  // A value that is JSON already (an array, an object, null), and how text shows it.
  ObjectWriter& raw(std::string_view key, std::string_view json_value, std::string_view text_value);
  std::string str() const;

 private:
  bool text_;
  std::string out_;                                        // JSON
  std::vector<std::pair<std::string, std::string>> rows_;  // text
};

}  // namespace es::view

// cmd/output.h: how es prints results (NDJSON by default, text with -o text).
#pragma once

#include <optional>
#include <string>

#include "es/event.h"

#include "protocol/messages.h"

namespace escmd {

std::string event_line(const es::RecordedEvent& e, bool text);
std::string written_line(const es::StreamWritten& w, bool text);
std::string stream_line(const es::StreamInfo& s, bool text);

// Milliseconds as a node reports them (-1: never, as before a first contact)
// in seconds; nullopt for never.
std::optional<double> seconds_ago(std::int64_t ms);

class ObjectWriter;
// A read node's link to its source (es status, es nodes): source,
// source_state, source_since, source_head, source_contact_s, lag_events
// (null: unknown) and source_error.
void add_source_fields(ObjectWriter& w, const es::protocol::StatusReply& s);

// A flat JSON object built field by field, or "key: value" lines for text.
class ObjectWriter {
 public:
  explicit ObjectWriter(bool text) : text_(text) {}
  ObjectWriter& field(std::string_view key, std::string_view value);
  ObjectWriter& field(std::string_view key, std::uint64_t value);
  ObjectWriter& field(std::string_view key, double value);
  ObjectWriter& field(std::string_view key, bool value);
  // Seconds (3 decimals), or null (text: "-") when unknown.
  ObjectWriter& field(std::string_view key, std::optional<double> seconds);
  // A value that is JSON already (an array, an object, null), and how text shows it.
  ObjectWriter& raw(std::string_view key, std::string_view json_value, std::string_view text_value);
  std::string str() const;

 private:
  bool text_;
  std::string out_;
};

}  // namespace escmd

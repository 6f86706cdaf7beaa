// cmd/output.h: how es prints results (NDJSON by default, text with -o text).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "es/event.h"

#include "context.h"
#include "protocol/messages.h"

namespace escmd {

std::string event_line(const es::RecordedEvent& e, bool text);
std::string written_line(const es::StreamWritten& w, bool text);
std::string stream_line(const es::StreamInfo& s);  // JSON

// Milliseconds as a node reports them (-1: never, as before a first contact)
// in seconds; nullopt for never.
std::optional<double> seconds_ago(std::int64_t ms);

class ObjectWriter;
// A read node's link to its source (es status, es nodes): source,
// source_state, source_since, source_head, source_contact_s, lag_events
// (null: unknown) and source_error.
void add_source_fields(ObjectWriter& w, const es::protocol::StatusReply& s);

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

// Rows under a header, in aligned columns (-o text); cells that look like
// numbers align right. The first 1,000 rows set the widths, so that a long
// listing starts at once and stays bounded in memory; later, longer cells
// push their line out.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);
  // Adds a row, printing through `ctx` once the widths are set. False once
  // stdout is closed.
  bool add(std::vector<std::string> row, Context& ctx);
  // Prints what is held. False once stdout is closed.
  bool finish(Context& ctx);

 private:
  static constexpr std::size_t kWidthRows = 1000;
  bool print(const std::vector<std::string>& row, Context& ctx);
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> held_;
  std::vector<std::size_t> widths_;
  std::vector<bool> numeric_;
  bool fixed_ = false;
};

// A time in text: ISO 8601 UTC, "-" for none (0 or less).
std::string text_time_us(std::int64_t us);

}  // namespace escmd

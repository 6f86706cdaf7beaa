// cmd/output.h: how es prints results (NDJSON by default, text with -o text).
#pragma once

#include <string>

#include "es/event.h"

#include "protocol/messages.h"

namespace escmd {

std::string event_line(const es::RecordedEvent& e, bool text);
std::string written_line(const es::StreamWritten& w, bool text);
std::string stream_line(const es::StreamInfo& s, bool text);

// A flat JSON object built field by field, or "key: value" lines for text.
class ObjectWriter {
 public:
  explicit ObjectWriter(bool text) : text_(text) {}
  ObjectWriter& field(std::string_view key, std::string_view value);
  ObjectWriter& field(std::string_view key, std::uint64_t value);
  ObjectWriter& field(std::string_view key, double value);
  ObjectWriter& field(std::string_view key, bool value);
  // A value that is JSON already (an array, an object, null), and how text shows it.
  ObjectWriter& raw(std::string_view key, std::string_view json_value, std::string_view text_value);
  std::string str() const;

 private:
  bool text_;
  std::string out_;
};

}  // namespace escmd

#include "output.h"

#include <fmt/format.h>

#include "es/json.h"

namespace escmd {

std::string event_line(const es::RecordedEvent& e, bool text) {
  std::string out;
  if (text) {
    out = fmt::format("{} {}@{} {} {}", e.position, e.stream, e.version, e.type, e.data);
    if (!e.metadata.empty()) out += " " + e.metadata;
    return out;
  }
  out.reserve(160 + e.data.size() + e.metadata.size());
  es::append_event_json(out, e);
  return out;
}

std::string written_line(const es::StreamWritten& w, bool text) {
  if (text) {
    return fmt::format("appended {} event{} to {}: versions {}..{}, positions {}..{}", w.count,
                       w.count == 1 ? "" : "s", w.stream, w.first_version, w.last_version,
                       w.first_position, w.last_position);
  }
  return ObjectWriter(false)
      .field("stream", w.stream)
      .field("count", w.count)
      .field("first_version", w.first_version)
      .field("last_version", w.last_version)
      .field("first_position", w.first_position)
      .field("last_position", w.last_position)
      .str();
}

std::string stream_line(const es::StreamInfo& s, bool text) {
  if (text)
    return fmt::format("{} version {} position {}", s.stream, s.last_version, s.last_position);
  return ObjectWriter(false)
      .field("stream", s.stream)
      .field("last_version", s.last_version)
      .field("last_position", s.last_position)
      .str();
}

void add_source_fields(ObjectWriter& w, const es::protocol::StatusReply& s) {
  w.field("source", s.source)
      .field("source_state", s.source_state)
      .field("source_since", es::format_time_us(s.source_since_us))
      .field("source_head", s.source_head)
      .field("source_contact_s", seconds_ago(s.source_contact_ms));
  if (s.source_lag_events >= 0) {
    w.field("lag_events", static_cast<std::uint64_t>(s.source_lag_events));
  } else {
    w.raw("lag_events", "null", "-");
  }
  if (!s.source_error.empty() && s.source_state != "connected")
    w.field("source_error", s.source_error);
}

std::optional<double> seconds_ago(std::int64_t ms) {
  if (ms < 0) return std::nullopt;
  return static_cast<double>(ms) / 1e3;
}

ObjectWriter& ObjectWriter::raw(std::string_view key, std::string_view json_value,
                                std::string_view text_value) {
  if (text_) {
    out_ += fmt::format("{:<12} {}\n", std::string(key) + ":", text_value);
    return *this;
  }
  out_.push_back(out_.empty() ? '{' : ',');
  es::append_json_string(out_, key);
  out_.push_back(':');
  out_ += json_value;
  return *this;
}

ObjectWriter& ObjectWriter::field(std::string_view key, std::string_view value) {
  std::string quoted;
  es::append_json_string(quoted, value);
  return raw(key, quoted, value);
}

ObjectWriter& ObjectWriter::field(std::string_view key, std::uint64_t value) {
  std::string s = std::to_string(value);
  return raw(key, s, s);
}

ObjectWriter& ObjectWriter::field(std::string_view key, double value) {
  std::string s = fmt::format("{:.3f}", value);
  return raw(key, s, s);
}

ObjectWriter& ObjectWriter::field(std::string_view key, std::optional<double> seconds) {
  return seconds ? field(key, *seconds) : raw(key, "null", "-");
}

ObjectWriter& ObjectWriter::field(std::string_view key, bool value) {
  return raw(key, value ? "true" : "false", value ? "true" : "false");
}

std::string ObjectWriter::str() const {
  if (text_) return out_.empty() ? out_ : out_.substr(0, out_.size() - 1);
  return out_.empty() ? "{}" : out_ + "}";
}

}  // namespace escmd

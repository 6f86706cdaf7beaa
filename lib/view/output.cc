#include "view/output.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "es/json.h"

namespace es::view {

std::string text_time_us(std::int64_t us) { return us > 0 ? es::format_time_us(us) : "-"; }

std::string event_line(const es::RecordedEvent& e, bool text) {
  std::string out;
  if (text) {
    out = fmt::format("{:>8}  {}  {}@{}  {}  {}", e.position, text_time_us(e.time_us), e.stream,
                      e.version, e.type, e.data);
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

std::string stream_line(const es::StreamInfo& s) {
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

std::string partition_line(std::string_view key, std::string_view state) {
  std::string out = "{\"key\":";
  es::append_json_string(out, key);
  out += ",\"state\":";
  out += state;
  out += '}';
  return out;
}

std::string with_fields(std::string object, const ObjectWriter& extra) {
  const std::string fields = extra.str();
  if (fields.size() <= 2) return object;  // "{}": nothing to add
  object.pop_back();                      // its '}'
  if (object.size() > 1) object += ',';
  return object + fields.substr(1);
}

std::optional<double> seconds_ago(std::int64_t ms) {
  if (ms < 0) return std::nullopt;
  return static_cast<double>(ms) / 1e3;
}

ObjectWriter& ObjectWriter::raw(std::string_view key, std::string_view json_value,
                                std::string_view text_value) {
  if (text_) {
    rows_.emplace_back(std::string(key) + ":", std::string(text_value));
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

ObjectWriter& ObjectWriter::time_us(std::string_view key, std::int64_t us) {
  if (text_) {
    // "head_time_us" reads "head_time" in text, which shows a time, not microseconds.
    if (key.ends_with("_us")) key.remove_suffix(3);
    return raw(key, "", text_time_us(us));
  }
  const std::string s = std::to_string(std::max<std::int64_t>(us, 0));
  return raw(key, s, s);
}

std::string ObjectWriter::str() const {
  if (!text_) return out_.empty() ? "{}" : out_ + "}";
  std::size_t width = 0;
  for (const auto& [key, value] : rows_) width = std::max(width, key.size());
  std::string out;
  for (const auto& [key, value] : rows_) {
    if (!out.empty()) out += '\n';
    out += fmt::format("{:<{}} {}", key, width, value);
    while (!out.empty() && out.back() == ' ') out.pop_back();
  }
  return out;
}

namespace {

std::string replicas_json(const std::vector<es::protocol::ReplicaInfo>& replicas, bool text) {
  std::string out = text ? "" : "[";
  for (const auto& r : replicas) {
    if (text) {
      out += fmt::format("{}{} ({}, head {}, {:.1f} s ago{})", out.empty() ? "" : ", ", r.listen,
                         r.role, r.head, static_cast<double>(r.age_ms) / 1e3,
                         r.stopping ? ", stopping" : "");
    } else {
      if (out.size() > 1) out += ',';
      out += ObjectWriter(false)
                 .field("listen", r.listen)
                 .field("role", r.role)
                 .field("head", r.head)
                 .field("seen_s", static_cast<double>(r.age_ms) / 1e3)
                 .field("stopping", r.stopping)
                 .str();
    }
  }
  if (text) return out.empty() ? "-" : out;
  return out + "]";
}

}  // namespace

std::string status_line(const es::protocol::StatusReply& s, bool text) {
  ObjectWriter w(text);
  w.field("role", s.role)
      .field("version", s.version)
      .field("head", s.head)
      .time_us("head_time_us", s.head_time_us)
      .field("streams", s.streams)
      .field("store_bytes", s.store_bytes)
      .field("map_bytes", s.map_bytes)
      .field("uptime_s", static_cast<double>(s.uptime_us) / 1e6)
      .field("clients", s.clients)
      .field("subscribers", s.subscribers)
      .field("appends", s.appends)
      .field("conflicts", s.conflicts)
      .field("data", s.data)
      .field("listen", s.listen)
      .field("publish", s.publish)
      .field("durability", s.durability);
  if (!s.primary.empty()) {
    w.field("primary", s.primary)
        .field("follow", s.follow_state)
        .field("primary_head", s.primary_head)
        .field("primary_contact_s", seconds_ago(s.primary_contact_ms));
    if (!s.follow_error.empty()) w.field("follow_error", s.follow_error);
  }
  if (!s.source.empty()) add_source_fields(w, s);
  w.raw("replicas", replicas_json(s.replicas, false), replicas_json(s.replicas, true));
  return w.str();
}

}  // namespace es::view

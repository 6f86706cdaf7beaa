#include "output.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "es/json.h"

namespace escmd {

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
bool looks_numeric(std::string_view cell) {
  return !cell.empty() && (cell == "-" || std::all_of(cell.begin(), cell.end(), [](char c) {
                             return std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
                                    c == ',' || c == '-';
                           }));
}
}  // namespace

TextTable::TextTable(std::vector<std::string> header)
    : header_(std::move(header)), widths_(header_.size()), numeric_(header_.size(), true) {
  for (std::size_t i = 0; i < header_.size(); ++i) widths_[i] = header_[i].size();
}

bool TextTable::add(std::vector<std::string> row, Context& ctx) {
  row.resize(header_.size());
  if (fixed_) return print(row, ctx);
  for (std::size_t i = 0; i < row.size(); ++i) {
    widths_[i] = std::max(widths_[i], row[i].size());
    numeric_[i] = numeric_[i] && looks_numeric(row[i]);
  }
  held_.push_back(std::move(row));
  return held_.size() < kWidthRows || finish(ctx);
}

bool TextTable::finish(Context& ctx) {
  if (!fixed_) {
    fixed_ = true;
    if (!print(header_, ctx)) return false;
  }
  for (const auto& row : held_) {
    if (!print(row, ctx)) return false;
  }
  held_.clear();
  return !ctx.stdout_closed();
}

bool TextTable::print(const std::vector<std::string>& row, Context& ctx) {
  std::string line;
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (i > 0) line += "  ";
    const bool last = i + 1 == row.size();
    if (numeric_[i])
      line += fmt::format("{:>{}}", row[i], widths_[i]);
    else
      line += last ? row[i] : fmt::format("{:<{}}", row[i], widths_[i]);
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return ctx.emit(line);
}

}  // namespace escmd

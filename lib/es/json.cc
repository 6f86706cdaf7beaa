#include "es/json.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace es {
namespace {

// Forwards SAX events to a Writer while bounding the nesting depth.
class BoundedCopy {
 public:
  explicit BoundedCopy(rapidjson::Writer<rapidjson::StringBuffer>& w) : w_(w) {}

  bool Null() { return w_.Null(); }
  bool Bool(bool b) { return w_.Bool(b); }
  bool Int(int i) { return w_.Int(i); }
  bool Uint(unsigned i) { return w_.Uint(i); }
  bool Int64(std::int64_t i) { return w_.Int64(i); }
  bool Uint64(std::uint64_t i) { return w_.Uint64(i); }
  bool Double(double d) { return w_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    return w_.RawValue(s, n, rapidjson::kNumberType);
  }
  bool String(const char* s, rapidjson::SizeType n, bool) { return w_.String(s, n); }
  bool Key(const char* s, rapidjson::SizeType n, bool) { return w_.Key(s, n); }
  bool StartObject() { return enter() && w_.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return w_.EndObject(n);
  }
  bool StartArray() { return enter() && w_.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return w_.EndArray(n);
  }

  bool too_deep() const { return too_deep_; }

 private:
  bool enter() {
    if (++depth_ > kMaxJsonDepth) too_deep_ = true;
    return !too_deep_;
  }
  rapidjson::Writer<rapidjson::StringBuffer>& w_;
  int depth_ = 0;
  bool too_deep_ = false;
};

constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseNumbersAsStringsFlag;

// RapidJSON's streams end at a NUL byte: "{}\0junk" would parse as "{}",
// the rest dropped unseen. No NUL is valid JSON text (inside a string it
// must be escaped), so one anywhere refuses the text before parsing.
// Returns the message's tail, or empty when there is none.
std::string nul_byte(std::string_view text) {
  const std::size_t at = text.find('\0');
  if (at == std::string_view::npos) return {};
  return "a NUL byte (at byte " + std::to_string(at) + ")";
}

// Reads the top-level members of an event object in one pass: strings for
// the named string fields, and a canonical copy of data and metadata.
class EventFieldsReader {
 public:
  using W = rapidjson::Writer<rapidjson::StringBuffer>;
  explicit EventFieldsReader(EventFields& out) : out_(out) {}

  bool Null() {
    return scalar([](W& w) { return w.Null(); }, nullptr, true);
  }
  bool Bool(bool b) {
    return scalar([b](W& w) { return w.Bool(b); }, nullptr);
  }
  bool Int(int i) { return Int64(i); }
  bool Uint(unsigned i) { return Uint64(i); }
  bool Int64(std::int64_t i) {
    return scalar([i](W& w) { return w.Int64(i); }, nullptr);
  }
  bool Uint64(std::uint64_t i) {
    return scalar([i](W& w) { return w.Uint64(i); }, nullptr);
  }
  bool Double(double d) {
    return scalar([d](W& w) { return w.Double(d); }, nullptr);
  }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1 && key_ == "expect" && !capturing()) {
      out_.expect = std::string(s, n);
      return true;
    }
    return scalar([s, n](W& w) { return w.RawValue(s, n, rapidjson::kNumberType); }, nullptr);
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    std::string_view v(s, n);
    return scalar([s, n](W& w) { return w.String(s, n); }, &v);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1) {
      key_.assign(s, n);
      const auto& known = event_line_keys();
      if (std::find(known.begin(), known.end(), key_) == known.end())
        out_.unknown_keys.push_back(key_);
      return true;
    }
    return !capturing() || writer_->Key(s, n);
  }
  bool StartObject() {
    return open([](W& w) { return w.StartObject(); });
  }
  bool EndObject(rapidjson::SizeType n) {
    return close([n](W& w) { return w.EndObject(n); });
  }
  bool StartArray() {
    if (depth_ == 0) return fail("an event must be a JSON object");
    return open([](W& w) { return w.StartArray(); });
  }
  bool EndArray(rapidjson::SizeType n) {
    return close([n](W& w) { return w.EndArray(n); });
  }

  const std::string& error() const { return error_; }

 private:
  bool capturing() const { return writer_ != nullptr; }
  bool fail(std::string m) {
    error_ = std::move(m);
    return false;
  }
  std::optional<std::string>* string_target() {
    if (key_ == "stream") return &out_.stream;
    if (key_ == "type") return &out_.type;
    if (key_ == "id") return &out_.id;
    if (key_ == "expect") return &out_.expect;
    return nullptr;
  }
  bool begin_capture() {
    if (key_ != "data" && key_ != "metadata") return false;
    buf_.Clear();
    writer_ = std::make_unique<W>(buf_);
    return true;
  }
  void end_capture() {
    (key_ == "data" ? out_.data : out_.metadata) = std::string(buf_.GetString(), buf_.GetSize());
    writer_.reset();
  }
  template <class F>
  bool scalar(F write, const std::string_view* str, bool is_null = false) {
    if (depth_ == 0) return fail("an event must be a JSON object");
    if (capturing()) return write(*writer_);
    if (depth_ > 1) return true;  // inside an ignored member
    if (auto* target = string_target()) {
      if (str != nullptr)
        *target = std::string(*str);
      else if (!is_null)
        return fail("\"" + key_ + "\" must be a string");
      return true;
    }
    if (key_ == "metadata" && is_null) return true;
    if (begin_capture()) {
      if (!write(*writer_)) return false;
      end_capture();
    }
    return true;
  }
  template <class F>
  bool open(F write) {
    if (++depth_ > kMaxJsonDepth + 1)
      return fail("the event nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    if (depth_ == 1) return true;
    if (capturing()) return write(*writer_);
    if (depth_ == 2) {
      if (string_target() != nullptr) return fail("\"" + key_ + "\" must be a string");
      if (begin_capture()) return write(*writer_);
    }
    return true;
  }
  template <class F>
  bool close(F write) {
    --depth_;
    if (!capturing()) return true;
    if (!write(*writer_)) return false;
    if (depth_ == 1) end_capture();
    return true;
  }

  EventFields& out_;
  int depth_ = 0;
  std::string key_;
  rapidjson::StringBuffer buf_;
  std::unique_ptr<W> writer_;
  std::string error_;
};

}  // namespace

const std::vector<std::string>& event_line_keys() {
  static const std::vector<std::string> keys = {"position", "stream", "version",  "id",    "type",
                                                "time",     "data",   "metadata", "expect"};
  return keys;
}

Result<EventFields> parse_event_fields(std::string_view line) {
  if (std::string nul = nul_byte(line); !nul.empty())
    return Status::invalid("not valid JSON: " + nul);
  EventFields fields;
  EventFieldsReader handler(fields);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(line.data(), line.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(ms);
  rapidjson::ParseResult r = reader.Parse<kParseFlags>(in, handler);
  if (!handler.error().empty()) return Status::invalid(handler.error());
  if (r.IsError()) {
    return Status::invalid(std::string("not valid JSON: ") + rapidjson::GetParseError_En(r.Code()) +
                           " (at byte " + std::to_string(r.Offset()) + ")");
  }
  return fields;
}

Result<std::string> canonical_json(std::string_view text, std::string_view what,
                                   std::size_t max_bytes, JsonShape shape) {
  if (text.size() > max_bytes) {
    return Status::invalid(std::string(what) + " is " + std::to_string(text.size()) +
                           " bytes; the limit is " + std::to_string(max_bytes));
  }
  if (std::string nul = nul_byte(text); !nul.empty())
    return Status::invalid(std::string(what) + " is not valid JSON: " + nul);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
  BoundedCopy copy(writer);
  rapidjson::Reader reader;
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(ms);
  rapidjson::ParseResult r = reader.Parse<kParseFlags>(in, copy);
  if (copy.too_deep()) {
    return Status::invalid(std::string(what) + " nests deeper than " +
                           std::to_string(kMaxJsonDepth) + " levels");
  }
  if (r.IsError()) {
    return Status::invalid(std::string(what) +
                           " is not valid JSON: " + rapidjson::GetParseError_En(r.Code()) +
                           " (at byte " + std::to_string(r.Offset()) + ")");
  }
  std::string out(buf.GetString(), buf.GetSize());
  // The input is valid UTF-8, but RapidJSON 1.1 decodes a lone low surrogate
  // escape ("\udc00") into the bytes of U+DC00, which are not UTF-8.
  if (!is_valid_utf8(out)) {
    return Status::invalid(std::string(what) +
                           " is not valid JSON: a \\u escape encodes a lone surrogate");
  }
  if (shape == JsonShape::kObject && (out.empty() || out.front() != '{')) {
    return Status::invalid(std::string(what) + " must be a JSON object");
  }
  return out;
}

namespace {

// A recursive descent over canonical JSON: RapidJSON's Writer output, with
// numbers as written. Strings hold raw UTF-8 (no overlongs, surrogates or
// code points past U+10FFFF) and only the escapes the Writer makes (quote,
// backslash, b t n f r, and u00XX in upper-case hex for other bytes below
// 0x20).
class CanonicalCheck {
 public:
  explicit CanonicalCheck(std::string_view t)
      : p_(reinterpret_cast<const unsigned char*>(t.data())), end_(p_ + t.size()) {}
  bool whole(JsonShape shape) {
    if (shape == JsonShape::kObject && (p_ == end_ || *p_ != '{')) return false;
    return value() && p_ == end_;
  }

 private:
  bool value() {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return container('}', true);
      case '[':
        return container(']', false);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  bool container(unsigned char close, bool object) {
    if (++depth_ > kMaxJsonDepth) return false;
    ++p_;
    if (p_ != end_ && *p_ == close) {
      ++p_;
      --depth_;
      return true;
    }
    for (;;) {
      if (object) {
        if (p_ == end_ || *p_ != '"' || !string() || p_ == end_ || *p_ != ':') return false;
        ++p_;
      }
      if (!value() || p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ != close) return false;
      ++p_;
      --depth_;
      return true;
    }
  }
  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }
  bool digits() {
    const unsigned char* start = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != start;
  }
  // Numbers that RapidJSON might find too big for a double (an exponent of
  // three digits, a long integer part) are left to canonical_json to judge.
  bool number() {
    if (p_ != end_ && *p_ == '-') ++p_;
    if (p_ == end_) return false;
    const unsigned char* start = p_;
    if (*p_ == '0') {
      ++p_;
    } else if (!digits()) {
      return false;
    }
    if (p_ - start > 300) return false;
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      const unsigned char* exponent = p_;
      if (!digits() || p_ - exponent > 2) return false;
    }
    return true;
  }
  static bool upper_hex(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
  }
  bool string() {
    ++p_;  // the opening quote
    while (p_ != end_) {
      const unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (end_ - p_ < 2) return false;
        const unsigned char e = p_[1];
        if (e == '"' || e == '\\' || e == 'b' || e == 't' || e == 'n' || e == 'f' || e == 'r') {
          p_ += 2;
          continue;
        }
        // \u00XX: only for the bytes below 0x20 that have no short escape.
        if (e != 'u' || end_ - p_ < 6 || p_[2] != '0' || p_[3] != '0' ||
            (p_[4] != '0' && p_[4] != '1') || !upper_hex(p_[5]))
          return false;
        const int v = (p_[4] - '0') * 16 + (p_[5] <= '9' ? p_[5] - '0' : p_[5] - 'A' + 10);
        if (v == 8 || v == 9 || v == 10 || v == 12 || v == 13) return false;
        p_ += 6;
        continue;
      }
      if (c < 0x80) {
        ++p_;
        continue;
      }
      if (!utf8_sequence()) return false;
    }
    return false;
  }
  bool utf8_sequence() {
    const unsigned char c = *p_;
    int n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end_ - p_ < n + 1) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p_[i] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (p_[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    p_ += n + 1;
    return true;
  }

  const unsigned char* p_;
  const unsigned char* end_;
  int depth_ = 0;
};

}  // namespace

bool is_canonical_json(std::string_view text, JsonShape shape) {
  return CanonicalCheck(text).whole(shape);
}

bool json_depth_within(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

std::string format_time_us(std::int64_t time_us) {
  std::time_t secs = static_cast<std::time_t>(time_us / 1'000'000);
  auto micros = static_cast<int>(time_us % 1'000'000);
  if (micros < 0) {
    micros += 1'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];  // room for any int fields: no -Wformat-truncation
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return buf;
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void append_event_json(std::string& out, const RecordedEvent& e) {
  out += "{\"position\":";
  out += std::to_string(e.position);
  out += ",\"stream\":";
  append_json_string(out, e.stream);
  out += ",\"version\":";
  out += std::to_string(e.version);
  out += ",\"id\":\"";
  out += e.id.to_string();
  out += "\",\"type\":";
  append_json_string(out, e.type);
  out += ",\"time\":\"";
  out += format_time_us(e.time_us);
  out += "\",\"data\":";
  out += e.data.empty() ? "null" : e.data;
  if (!e.metadata.empty()) {
    out += ",\"metadata\":";
    out += e.metadata;
  }
  out.push_back('}');
}

}  // namespace es

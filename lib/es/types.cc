#include "es/types.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "es/result.h"

namespace es {

Result<ExpectedVersion> ExpectedVersion::parse(std::string_view text) {
  if (text == "any") return any();
  if (text == "no-stream") return no_stream();
  if (text == "exists") return exists();
  Version v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Status::invalid("expected version must be any, no-stream, exists or a number, not '" +
                           std::string(text) + "'");
  }
  return exact(v);
}

std::string ExpectedVersion::to_string() const {
  switch (kind_) {
    case Kind::kAny:
      return "any";
    case Kind::kNoStream:
      return "no-stream";
    case Kind::kExists:
      return "exists";
    case Kind::kExact:
      return std::to_string(version_);
  }
  return "?";
}

bool ExpectedVersion::admits(std::optional<Version> actual) const {
  switch (kind_) {
    case Kind::kAny:
      return true;
    case Kind::kNoStream:
      return !actual.has_value();
    case Kind::kExists:
      return actual.has_value();
    case Kind::kExact:
      return actual.has_value() && *actual == version_;
  }
  return false;
}

bool is_valid_utf8(std::string_view s) {
  static const std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c >> 5) == 0x6) {
      n = 1, cp = c & 0x1f;
    } else if ((c >> 4) == 0xe) {
      n = 2, cp = c & 0x0f;
    } else if ((c >> 3) == 0x1e) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3f);
    }
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

std::string_view category_of(std::string_view stream) { return stream.substr(0, stream.find('-')); }

namespace {

// What a new name must not hold: controls (Cc), format characters (Cf: the
// bidirectional controls, the zero-width ones, the byte order mark, ...)
// and the line and paragraph separators. Each can make a name print as
// another, or break the line it is printed on.
struct Forbidden {
  char32_t first, last;
  const char* what;
};
constexpr Forbidden kForbidden[] = {
    {0x0000, 0x001F, "a control character"},
    {0x007F, 0x009F, "a control character"},
    {0x00AD, 0x00AD, "SOFT HYPHEN, a format character"},
    {0x0600, 0x0605, "a format character"},
    {0x061C, 0x061C, "ARABIC LETTER MARK, a format character"},
    {0x06DD, 0x06DD, "a format character"},
    {0x070F, 0x070F, "a format character"},
    {0x0890, 0x0891, "a format character"},
    {0x08E2, 0x08E2, "a format character"},
    {0x180E, 0x180E, "MONGOLIAN VOWEL SEPARATOR, a format character"},
    {0x200B, 0x200B, "ZERO WIDTH SPACE, a format character"},
    {0x200C, 0x200C, "ZERO WIDTH NON-JOINER, a format character"},
    {0x200D, 0x200D, "ZERO WIDTH JOINER, a format character"},
    {0x200E, 0x200E, "LEFT-TO-RIGHT MARK, a format character"},
    {0x200F, 0x200F, "RIGHT-TO-LEFT MARK, a format character"},
    {0x2028, 0x2028, "LINE SEPARATOR"},
    {0x2029, 0x2029, "PARAGRAPH SEPARATOR"},
    {0x202A, 0x202A, "LEFT-TO-RIGHT EMBEDDING, a format character"},
    {0x202B, 0x202B, "RIGHT-TO-LEFT EMBEDDING, a format character"},
    {0x202C, 0x202C, "POP DIRECTIONAL FORMATTING, a format character"},
    {0x202D, 0x202D, "LEFT-TO-RIGHT OVERRIDE, a format character"},
    {0x202E, 0x202E, "RIGHT-TO-LEFT OVERRIDE, a format character"},
    {0x2060, 0x2060, "WORD JOINER, a format character"},
    {0x2061, 0x2064, "an invisible operator, a format character"},
    {0x2066, 0x2066, "LEFT-TO-RIGHT ISOLATE, a format character"},
    {0x2067, 0x2067, "RIGHT-TO-LEFT ISOLATE, a format character"},
    {0x2068, 0x2068, "FIRST STRONG ISOLATE, a format character"},
    {0x2069, 0x2069, "POP DIRECTIONAL ISOLATE, a format character"},
    {0x206A, 0x206F, "a format character"},
    {0xFEFF, 0xFEFF, "ZERO WIDTH NO-BREAK SPACE (byte order mark), a format character"},
    {0xFFF9, 0xFFFB, "an interlinear annotation character, a format character"},
    {0x110BD, 0x110BD, "a format character"},
    {0x110CD, 0x110CD, "a format character"},
    {0x13430, 0x1343F, "a format character"},
    {0x1BCA0, 0x1BCA3, "a format character"},
    {0x1D173, 0x1D17A, "a format character"},
    {0xE0001, 0xE0001, "LANGUAGE TAG, a format character"},
    {0xE0020, 0xE007F, "a tag character, a format character"},
};

// The code point at s[i] of valid UTF-8, and its length in bytes.
char32_t decode_at(std::string_view s, std::size_t i, std::size_t* bytes) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : 4;
  char32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
  for (std::size_t k = 1; k < n; ++k) cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  *bytes = n;
  return cp;
}

Status check_length(std::string_view what, std::string_view name) {
  if (name.empty()) return Status::invalid(std::string(what) + " must not be empty");
  if (name.size() > kMaxNameBytes) {
    return Status::invalid(std::string(what) + " is " + std::to_string(name.size()) +
                           " bytes; the limit is " + std::to_string(kMaxNameBytes));
  }
  return {};
}

}  // namespace

Status validate_name(std::string_view what, std::string_view name) {
  ES_RETURN_IF_ERROR(check_length(what, name));
  // Most names are printable ASCII: one pass over the bytes, no table (the
  // append path checks every event's stream and type).
  if (std::all_of(name.begin(), name.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
    return {};
  if (!is_valid_utf8(name)) return Status::invalid(std::string(what) + " is not valid UTF-8");
  for (std::size_t i = 0, n = 0; i < name.size(); i += n) {
    const char32_t cp = decode_at(name, i, &n);
    for (const Forbidden& f : kForbidden) {
      if (cp < f.first || cp > f.last) continue;
      char code[16];
      std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(cp));
      return Status::invalid(std::string(what) +
                             " must not contain control or format characters: it holds " + code +
                             " (" + f.what + ") at byte " + std::to_string(i));
    }
  }
  return {};
}

Status validate_stored_name(std::string_view what, std::string_view name) {
  ES_RETURN_IF_ERROR(check_length(what, name));
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f)
      return Status::invalid(std::string(what) + " must not contain control characters");
  }
  if (!is_valid_utf8(name)) return Status::invalid(std::string(what) + " is not valid UTF-8");
  return {};
}

Status validate_lookup_name(std::string_view what, std::string_view name) {
  if (name.size() > kMaxNameBytes) {
    return Status::invalid(std::string(what) + " is " + std::to_string(name.size()) +
                           " bytes; no name is longer than " + std::to_string(kMaxNameBytes));
  }
  return {};
}

}  // namespace es

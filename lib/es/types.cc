#include "es/types.h"

#include <charconv>

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

Status validate_name(std::string_view what, std::string_view name) {
  if (name.empty()) return Status::invalid(std::string(what) + " must not be empty");
  if (name.size() > kMaxNameBytes) {
    return Status::invalid(std::string(what) + " is " + std::to_string(name.size()) +
                           " bytes; the limit is " + std::to_string(kMaxNameBytes));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return Status::invalid(std::string(what) + " must not contain control characters");
    }
  }
  if (!is_valid_utf8(name)) return Status::invalid(std::string(what) + " is not valid UTF-8");
  return {};
}

}  // namespace es

#include "es/uuid.h"

#include <chrono>
#include <mutex>
#include <random>

#include <sodium.h>

namespace es {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Uuid Uuid::copy_of(const Uuid& source, std::string_view stream) {
  static constexpr std::string_view kDomain = "es: the id of a copy";
  std::array<std::uint8_t, 16> hash{};
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, hash.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(kDomain.data()),
                            kDomain.size());
  crypto_generichash_update(&state, source.bytes.data(), source.bytes.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(stream.data()),
                            stream.size());
  crypto_generichash_final(&state, hash.data(), hash.size());
  Uuid u;
  for (int i = 0; i < 6; ++i) u.bytes[i] = source.bytes[i];
  for (int i = 6; i < 16; ++i) u.bytes[i] = hash[i];
  u.bytes[6] = static_cast<std::uint8_t>(0x80 | (u.bytes[6] & 0x0f));  // version 8
  u.bytes[8] = static_cast<std::uint8_t>(0x80 | (u.bytes[8] & 0x3f));  // RFC 9562 variant
  return u;
}

Uuid Uuid::v7() {
  // Monotonic within a process: when the clock has not moved on, the 12-bit
  // rand_a field counts up, so ids made in one millisecond still sort.
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  static std::uint64_t last_ms = 0;
  static std::uint16_t counter = 0;
  std::lock_guard lock(mu);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::uint64_t ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  if (ms <= last_ms) {
    ms = last_ms;
    if (++counter > 0x0fff) {
      ++ms;
      counter = 0;
    }
  } else {
    counter = static_cast<std::uint16_t>(rng() & 0x07ff);
  }
  last_ms = ms;
  Uuid u;
  for (int i = 0; i < 6; ++i) u.bytes[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  u.bytes[6] = static_cast<std::uint8_t>(0x70 | ((counter >> 8) & 0x0f));
  u.bytes[7] = static_cast<std::uint8_t>(counter & 0xff);
  std::uint64_t r = rng();
  for (int i = 8; i < 16; ++i) u.bytes[i] = static_cast<std::uint8_t>(r >> (8 * (i - 8)));
  u.bytes[8] = static_cast<std::uint8_t>(0x80 | (u.bytes[8] & 0x3f));
  return u;
}

Result<Uuid> Uuid::parse(std::string_view text) {
  Uuid u;
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return Status::invalid("id '" + std::string(text.substr(0, 64)) +
                           "' is not a UUID (8-4-4-4-12 hex digits)");
  }
  std::size_t j = 0;
  for (std::size_t i = 0; i < text.size() && j < 16; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;  // the dashes, checked above
    // Anywhere else a '-' is a bad hex digit: skipping it would shift the
    // pairs and leave the last bytes zero ("--89abcd-..." parsed).
    int hi = hex_value(text[i]);
    int lo = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
    if (hi < 0 || lo < 0) {
      return Status::invalid("id '" + std::string(text) + "' is not a UUID (bad hex digit)");
    }
    u.bytes[j++] = static_cast<std::uint8_t>(hi << 4 | lo);
    ++i;
  }
  return u;
}

std::string Uuid::to_string() const {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[bytes[i] >> 4]);
    s.push_back(kHex[bytes[i] & 0xf]);
  }
  return s;
}

bool Uuid::is_nil() const {
  for (auto b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace es

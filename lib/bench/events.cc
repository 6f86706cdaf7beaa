#include "bench/events.h"

#include <chrono>
#include <cstdio>
#include <cstring>

namespace es::bench {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double secs_since(std::int64_t t0) { return static_cast<double>(now_ns() - t0) / 1e9; }

Rng::Rng(std::uint64_t seed) {
  s0 = seed ^ 0x9E3779B97F4A7C15ULL;
  s1 = (seed << 17) ^ 0xD1B54A32D192ED03ULL ^ static_cast<std::uint64_t>(now_ns());
  for (int i = 0; i < 8; i++) next();
}

std::uint64_t Rng::next() {
  std::uint64_t x = s0, y = s1;
  s0 = y;
  x ^= x << 23;
  s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
  return s1 + y;
}

Uuid make_id(Rng& rng, IdKind kind) {
  if (kind == IdKind::kV7) return Uuid::v7();
  std::uint64_t a = rng.next(), b = rng.next();
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  Uuid u;
  for (int i = 0; i < 8; i++)
    u.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(a >> (56 - 8 * i));
  for (int i = 0; i < 8; i++)
    u.bytes[static_cast<std::size_t>(8 + i)] = static_cast<std::uint8_t>(b >> (56 - 8 * i));
  return u;
}

std::string make_data(std::uint64_t n, std::size_t bytes) {
  char head[256];
  int len = std::snprintf(
      head, sizeof head,
      "{\"n\":\"%012llu\",\"orderId\":\"ord-%08llu\",\"customer\":\"cust-%04llu\","
      "\"items\":[{\"sku\":\"apple\",\"qty\":3,\"price\":0.5},{\"sku\":\"pear\",\"qty\":2,"
      "\"price\":0.75}],\"total\":3.0,\"note\":\"",
      static_cast<unsigned long long>(n), static_cast<unsigned long long>(n % 100000000ULL),
      static_cast<unsigned long long>(n % 10000));
  constexpr std::size_t kTail = 2;  // "}
  if (bytes < static_cast<std::size_t>(len) + kTail) {
    // Too small for the order: the number and padding only.
    len = std::snprintf(head, sizeof head, "{\"n\":\"%012llu\",\"p\":\"",
                        static_cast<unsigned long long>(n));
  }
  std::string s(head, static_cast<std::size_t>(len));
  if (bytes > s.size() + kTail) s.append(bytes - s.size() - kTail, 'x');
  s += "\"}";
  return s;
}

std::uint64_t data_seq(std::string_view s) {
  const char* d = s.data();
  std::size_t len = s.size(), i = 0;
  const std::size_t lim = len < 32 ? len : 32;
  while (i + 3 < lim && !(d[i] == '"' && d[i + 1] == 'n' && d[i + 2] == '"')) i++;
  if (i + 3 >= lim) return UINT64_MAX;
  i += 3;
  while (i < len && (d[i] == ':' || d[i] == ' ' || d[i] == '"')) i++;
  if (i + 12 > len) return UINT64_MAX;
  std::uint64_t v = 0;
  for (std::size_t k = i; k < i + 12; k++) {
    if (d[k] < '0' || d[k] > '9') return UINT64_MAX;
    v = v * 10 + static_cast<std::uint64_t>(d[k] - '0');
  }
  return v;
}

ProposedEvent make_event(Rng& rng, const EventShape& shape, std::uint64_t n, std::string stream) {
  ProposedEvent e;
  e.stream = std::move(stream);
  e.id = make_id(rng, shape.ids);
  e.type = shape.type;
  e.data = make_data(n, shape.data_bytes);
  return e;
}

}  // namespace es::bench

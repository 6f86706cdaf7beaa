// bench/events.h
//
// The events the benchmarks append (esbench's workloads and `es bench`):
// the peer benchmark's shape (../shared/bench/peers: type OrderPlaced, a JSON
// body whose first field is a 12-digit sequence number, byte for byte the
// peers' make_data), with random UUIDv4 ids as the peers send them or
// time-ordered UUIDv7 ids as es clients make them.
//
// Thread safety: an Rng belongs to one thread; the functions are pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "es/event.h"
#include "es/uuid.h"

namespace es::bench {

// Nanoseconds on the steady clock: every time a benchmark takes.
std::int64_t now_ns();
// Seconds from `t0` (a now_ns()) to now.
double secs_since(std::int64_t t0);

// xorshift128+ (the peers' Rng): fast, and ids need only be unique.
struct Rng {
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  std::uint64_t s0, s1;
};

enum class IdKind { kV4, kV7 };
Uuid make_id(Rng& rng, IdKind kind);

// The smallest body make_data() writes: {"n":"<12 digits>","p":""}.
inline constexpr std::size_t kMinDataBytes = 27;

// A JSON body of exactly `bytes` bytes (>= kMinDataBytes) whose first field
// "n" is the sequence number `n` as 12 digits. From 170 bytes on it is the
// peers' order body byte for byte; below, {"n":"…","p":"xx…"}.
std::string make_data(std::uint64_t n, std::size_t bytes);

// The sequence number of a body made by make_data (UINT64_MAX if none).
std::uint64_t data_seq(std::string_view data);

// What every event of a run looks like.
struct EventShape {
  std::string type = "OrderPlaced";
  std::size_t data_bytes = 200;
  IdKind ids = IdKind::kV4;
};

ProposedEvent make_event(Rng& rng, const EventShape& shape, std::uint64_t n, std::string stream);

}  // namespace es::bench

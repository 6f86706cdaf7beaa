// bench/stats.h
//
// Latency statistics as the peer benchmark computes them: nearest-rank
// percentiles over every sample (no sampling, no histogram buckets), in
// microseconds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace es::bench {

// The sample at quantile q (0..1) of `sorted`, by nearest rank: index
// round(q * (n - 1)). T{} when empty.
template <class T>
T percentile(const std::vector<T>& sorted, double q) {
  if (sorted.empty()) return T{};
  auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  if (i >= sorted.size()) i = sorted.size() - 1;
  return sorted[i];
}

struct LatencySummary {
  std::uint64_t count = 0;
  double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

// Sorts `ns` (nanoseconds) and summarizes it.
LatencySummary summarize(std::vector<std::int64_t>& ns);

}  // namespace es::bench

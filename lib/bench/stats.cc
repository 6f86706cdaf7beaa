#include "bench/stats.h"

#include <algorithm>

namespace es::bench {

LatencySummary summarize(std::vector<std::int64_t>& ns) {
  std::sort(ns.begin(), ns.end());
  auto us = [](std::int64_t v) { return static_cast<double>(v) / 1e3; };
  LatencySummary s;
  s.count = ns.size();
  s.p50_us = us(percentile(ns, 0.50));
  s.p90_us = us(percentile(ns, 0.90));
  s.p99_us = us(percentile(ns, 0.99));
  s.p999_us = us(percentile(ns, 0.999));
  s.max_us = ns.empty() ? 0.0 : us(ns.back());
  return s;
}

}  // namespace es::bench

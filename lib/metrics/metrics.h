// metrics/metrics.h (private)
//
// Counters, gauges and histograms that the thread owning a fact updates
// without a lock (relaxed atomics), and the Prometheus text exposition
// format (version 0.0.4) a scraper's thread renders them in. Each value is
// exact on its own; a scrape may see one a moment ahead of another. A
// histogram's _count is the sum of the buckets it read, so that its +Inf
// bucket always equals its _count.
//
// Thread safety: update from any thread, render from any other.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace es::metrics {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into buckets with fixed upper bounds (at most
// kMaxBuckets, ascending; +Inf is implied).
class Histogram {
 public:
  static constexpr std::size_t kMaxBuckets = 24;
  Histogram(std::initializer_list<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;  // == cumulative.back()
  };
  Snapshot snapshot() const;

 private:
  std::size_t size_ = 0;
  std::array<double, kMaxBuckets> bounds_{};
  std::array<std::atomic<std::uint64_t>, kMaxBuckets + 1> buckets_{};
  std::atomic<double> sum_{0};
};

// Bucket bounds for durations in seconds, from 50 µs to 10 s.
std::initializer_list<double> duration_buckets();

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Writes the text exposition format: a family (# HELP and # TYPE) and then
// its samples. Label values and help text are escaped as the format says.
class Exposition {
 public:
  // type: counter, gauge, histogram or untyped.
  Exposition& family(std::string_view name, std::string_view type, std::string_view help);
  Exposition& sample(std::string_view name, Labels labels, double value);
  Exposition& sample(std::string_view name, double value) { return sample(name, {}, value); }
  // The _bucket, _sum and _count samples of histogram `name`.
  Exposition& histogram(std::string_view name, Labels labels, const Histogram::Snapshot& h);
  // family() and one sample, for a family with one series.
  Exposition& counter(std::string_view name, std::string_view help, double value);
  Exposition& gauge(std::string_view name, std::string_view help, double value);
  const std::string& str() const { return out_; }

 private:
  void labels(Labels labels, std::string_view le = {});
  void value(double v);
  std::string out_;
};

// What the format makes of a label value: \ " and newline escaped.
std::string escape_label_value(std::string_view v);

}  // namespace es::metrics

namespace es::metrics {

// What a Store counts when StoreOptions::metrics points here (esd's
// /metrics): updated by its writer and applier threads.
struct StoreMetrics {
  // One journal frame (a commit group): its write and flush.
  Histogram journal_write_seconds{duration_buckets()};
  Counter journal_written_bytes;
  // The journal's ring space that holds frames LMDB does not have yet.
  Gauge journal_unapplied_bytes;
  // One batch of frames brought into LMDB by the applier (its commit and sync).
  Histogram apply_seconds{duration_buckets()};
  Counter applied_frames;
};

}  // namespace es::metrics

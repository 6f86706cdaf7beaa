#include "metrics/metrics.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace es::metrics {

Histogram::Histogram(std::initializer_list<double> bounds) {
  if (bounds.size() > kMaxBuckets) throw std::logic_error("Histogram: too many buckets");
  for (double b : bounds) bounds_[size_++] = b;
}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < size_ && v > bounds_[i]) ++i;  // le: a value on a bound counts in it
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds.assign(bounds_.begin(), bounds_.begin() + static_cast<std::ptrdiff_t>(size_));
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= size_; ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::initializer_list<double> duration_buckets() {
  static constexpr std::initializer_list<double> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
      0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   10};
  return kBounds;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

// HELP text escapes only \ and newline.
std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Whole numbers as integers (counters read better), others shortest.
  if (std::fabs(v) < 9007199254740992.0 && v == std::floor(v))
    return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{}", v);
}

}  // namespace

Exposition& Exposition::family(std::string_view name, std::string_view type,
                               std::string_view help) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, type);
  return *this;
}

void Exposition::labels(Labels labels, std::string_view le) {
  if (labels.size() == 0 && le.empty()) return;
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    out_ += fmt::format("{}=\"{}\"", k, escape_label_value(v));
  }
  if (!le.empty()) out_ += fmt::format("{}le=\"{}\"", first ? "" : ",", le);
  out_ += '}';
}

void Exposition::value(double v) {
  out_ += ' ';
  out_ += format_number(v);
  out_ += '\n';
}

Exposition& Exposition::sample(std::string_view name, Labels ls, double v) {
  out_ += name;
  labels(ls);
  value(v);
  return *this;
}

Exposition& Exposition::histogram(std::string_view name, Labels ls, const Histogram::Snapshot& h) {
  for (std::size_t i = 0; i < h.cumulative.size(); ++i) {
    out_ += fmt::format("{}_bucket", name);
    labels(ls, i < h.bounds.size() ? format_number(h.bounds[i]) : "+Inf");
    value(static_cast<double>(h.cumulative[i]));
  }
  out_ += fmt::format("{}_sum", name);
  labels(ls);
  value(h.sum);
  out_ += fmt::format("{}_count", name);
  labels(ls);
  value(static_cast<double>(h.count));
  return *this;
}

Exposition& Exposition::counter(std::string_view name, std::string_view help, double v) {
  return family(name, "counter", help).sample(name, v);
}

Exposition& Exposition::gauge(std::string_view name, std::string_view help, double v) {
  return family(name, "gauge", help).sample(name, v);
}

}  // namespace es::metrics

// Unit tests of the exposition renderer (metrics/metrics.h): label values
// escaped as the text format says, histogram buckets cumulative with +Inf
// equal to _count, and a value on a bound counted in that bound's bucket.
#include "metrics/metrics.h"

#include <string>

#include <catch2/catch.hpp>

using es::metrics::Counter;
using es::metrics::Exposition;
using es::metrics::Histogram;

TEST_CASE("label values are escaped", "[metrics]") {
  CHECK(es::metrics::escape_label_value(R"(a\b"c)"
                                        "\n"
                                        "d") == R"(a\\b\"c\nd)");
  Exposition x;
  x.family("esd_x", "gauge", "Help with a \\ and a\nnewline")
      .sample("esd_x", {{"name", "say \"hi\""}, {"path", "C:\\tmp"}}, 2);
  CHECK(x.str() ==
        "# HELP esd_x Help with a \\\\ and a\\nnewline\n"
        "# TYPE esd_x gauge\n"
        "esd_x{name=\"say \\\"hi\\\"\",path=\"C:\\\\tmp\"} 2\n");
}

TEST_CASE("counters and values", "[metrics]") {
  Counter c;
  c.add();
  c.add(41);
  Exposition x;
  x.counter("esd_things_total", "Things", static_cast<double>(c.value()));
  x.gauge("esd_ratio", "A ratio", 0.25);
  CHECK(x.str() ==
        "# HELP esd_things_total Things\n# TYPE esd_things_total counter\nesd_things_total 42\n"
        "# HELP esd_ratio A ratio\n# TYPE esd_ratio gauge\nesd_ratio 0.25\n");
}

TEST_CASE("histogram buckets are cumulative", "[metrics]") {
  Histogram h{0.5, 1, 2};
  for (double v : {0.25, 0.5, 0.75, 1.0, 3.0, 9.0}) h.observe(v);
  const Histogram::Snapshot s = h.snapshot();
  CHECK(s.cumulative == std::vector<std::uint64_t>{2, 4, 4, 6});
  CHECK(s.count == 6);
  CHECK(s.sum == 14.5);
  Exposition x;
  x.histogram("esd_d_seconds", {{"kind", "append"}}, s);
  CHECK(x.str() ==
        "esd_d_seconds_bucket{kind=\"append\",le=\"0.5\"} 2\n"
        "esd_d_seconds_bucket{kind=\"append\",le=\"1\"} 4\n"
        "esd_d_seconds_bucket{kind=\"append\",le=\"2\"} 4\n"
        "esd_d_seconds_bucket{kind=\"append\",le=\"+Inf\"} 6\n"
        "esd_d_seconds_sum{kind=\"append\"} 14.5\n"
        "esd_d_seconds_count{kind=\"append\"} 6\n");
}

TEST_CASE("an empty histogram has every bucket at 0", "[metrics]") {
  Histogram h{0.001};
  Exposition x;
  x.histogram("esd_e", {}, h.snapshot());
  CHECK(x.str() ==
        "esd_e_bucket{le=\"0.001\"} 0\nesd_e_bucket{le=\"+Inf\"} 0\nesd_e_sum 0\nesd_e_count 0\n");
}

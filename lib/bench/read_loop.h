// bench/read_loop.h
//
// Reads one stream from version 0, or the whole log from position 1, page
// by page to its end, as esbench's W5 and W6 and `es bench read` do. Every
// event goes to `on_event` (checks, counts); the loop measures the pages'
// round trips.
//
// Thread safety: as the Client's (one thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "es/client.h"
#include "es/result.h"

namespace es::bench {

struct ReadLoopOptions {
  std::string stream;  // empty: the whole log
  std::uint32_t page_events = 1000;
  std::chrono::nanoseconds time_limit{std::chrono::seconds(180)};
  std::function<void(const RecordedEvent&)> on_event;
  // Called after each page with the events read so far.
  std::function<void(std::uint64_t events)> on_progress;
};

struct ReadLoopResult {
  std::uint64_t events = 0;
  std::uint64_t pages = 0;
  std::uint64_t data_bytes = 0;  // the events' data and metadata
  double secs = 0;
  std::vector<std::int64_t> page_latency_ns;
};

// Fails with the read's Status, or kUnavailable past `time_limit`, or
// kProtocol when a page does not advance.
Result<ReadLoopResult> run_read_loop(Client& client, const ReadLoopOptions& options);

}  // namespace es::bench

// bench/append_loop.h
//
// Closed-loop appenders: `clients` threads, each with its own es::Client,
// each sending one append request at a time and waiting for its answer,
// until together they have appended `max_events` events or `duration` has
// passed (checked after each answer). esbench's W1-W4 and `es bench append`
// are this loop with different settings.
//
// Streams are <prefix><first_stream + k> for k in 0..streams-1. With
// StreamPick::kRoundRobin each client cycles over its own streams (client c
// has k = c, c + clients, c + 2 clients, ...), so that expected versions
// never race between clients; with kRandom every request picks any stream.
// A request's events all go to one stream.
//
// Thread safety: run_append_loop() may be called from any thread; it blocks
// until every client has ended.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "es/curve.h"
#include "es/result.h"

#include "bench/events.h"

namespace es::bench {

enum class StreamPick { kRoundRobin, kRandom };

struct AppendLoopOptions {
  std::string endpoint;
  std::chrono::milliseconds timeout{30000};  // each request's
  CurveClient curve;                         // the keys each client presents (es/curve.h)
  long clients = 1;
  long batch = 1;  // events per request
  // Each append carries its stream's expected version: no_stream() for a
  // stream that has none yet, then the version the last answer gave. Each
  // client first reads the last version of its streams (before the clock
  // starts), so that a category written before works too.
  bool expect = false;
  long streams = 1000;  // REQUIRES: >= clients when kRoundRobin
  std::string prefix;
  long first_stream = 0;
  StreamPick pick = StreamPick::kRoundRobin;
  EventShape shape;
  std::uint64_t seed = 1;
  std::uint64_t max_events = 1000000;  // all clients together
  std::chrono::nanoseconds duration{std::chrono::seconds(10)};
  // Called about ten times a second from the calling thread with the
  // events appended so far.
  std::function<void(std::uint64_t events)> on_progress;
};

struct AppendLoopResult {
  std::uint64_t events = 0;                  // appended (acknowledged)
  std::uint64_t requests = 0;                // answered with success
  std::uint64_t errors = 0;                  // requests that failed (each ends its client)
  Status first_error = Status::ok_status();  // the first failed request's
  double secs = 0;                           // from the start of all clients to the end of the last
  std::vector<std::int64_t> latency_ns;      // of each successful request
};

// Fails only when the loop could not run (a client could not read its
// streams' versions); a failed append is counted in `errors` and ends that
// client, the others go on.
Result<AppendLoopResult> run_append_loop(const AppendLoopOptions& options);

}  // namespace es::bench

// cmd/replay.h: running a projection here, over a node's log, and printing
// its states; `es replay` and `es state --at` share it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "es/projection.h"

#include "context.h"
#include "output.h"
#include "projection/sandbox.h"

namespace escmd {

// Prints partitions: a line {"key":K,"state":S} each, or a table of KEY and
// STATE (-o text).
class PartitionPrinter {
 public:
  explicit PartitionPrinter(Context& ctx) : ctx_(ctx), table_({"KEY", "STATE"}) {}
  // False once stdout is closed.
  bool add(const std::string& key, const std::string& state);
  void finish();

 private:
  Context& ctx_;
  TextTable table_;
};

// Folds the log's events from `from` to `to` (default: the head at the
// start) into `p`, then prints every partition, or only `key` (exit 4 when
// it has no state). A failing reducer ends it with exit 1, printing nothing.
// `watchdog` (when set) times each event against `event_cpu`.
ExitCode replay_and_print(es::Projection& p, es::Client& client, es::Position from,
                          std::optional<es::Position> to, const std::optional<std::string>& key,
                          Context& ctx, es::Watchdog* watchdog = nullptr,
                          std::chrono::milliseconds event_cpu = {});

// Runs `body` in a child process under the sandbox hosted projections run
// in (projection/sandbox.h: its default limits, no environment, a
// Watchdog), so that a file replayed here behaves as it would on the node:
// a crash or a limit ends the child alone and is reported as an error
// naming projection `name`. The child makes its own connections.
ExitCode in_sandbox(Context& ctx, const std::string& name,
                    const std::function<ExitCode(es::Watchdog&, const es::SandboxLimits&)>& body);

}  // namespace escmd

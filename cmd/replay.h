// cmd/replay.h: running a projection here, over a node's log, and printing
// its states; `es replay` and `es state --at` share it.
#pragma once

#include <optional>
#include <string>

#include "es/projection.h"

#include "context.h"

namespace escmd {

// One partition's line: {"key":K,"state":S}.
std::string partition_line(const std::string& key, const std::string& state);

// Folds the log's events from `from` to `to` (default: the head at the
// start) into `p`, then prints every partition, or only `key` (exit 4 when
// it has no state). A failing reducer ends it with exit 1, printing nothing.
ExitCode replay_and_print(es::Projection& p, es::Client& client, es::Position from,
                          std::optional<es::Position> to, const std::optional<std::string>& key,
                          Context& ctx);

}  // namespace escmd

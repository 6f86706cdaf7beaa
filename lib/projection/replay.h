// projection/replay.h
//
// Folding a node's log into a projection from scratch, up to a position:
// what `es replay`, `es state --at` and the dashboard's states at a
// position share. The events come through a Subscription (once each, in
// order) without reconnecting: a node that goes away ends the replay with
// kUnavailable.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "es/client.h"
#include "es/projection.h"

#include "projection/sandbox.h"

namespace es {

struct ReplayOptions {
  Position from = 1;
  std::optional<Position> to;    // the last position folded in; default: the head at the start
  Watchdog* watchdog = nullptr;  // when set, times each event against event_cpu
  std::chrono::milliseconds event_cpu{};
  std::function<void(Position)> progress;  // each event's position, before it is folded
};

// Folds the events `p` reads into it. A failing reducer ends it with that
// error (the state then holds what came before).
Status replay(Projection& p, Client& client, const ReplayOptions& options);

}  // namespace es

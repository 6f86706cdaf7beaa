// cmd/progress.h: one line of progress for a long command, on a terminal.
//
// Written to stderr, and only when stderr is a terminal: stdout stays the
// command's output, and a script or a pipe into a file sees nothing. The
// line appears after the first half second (a quick command prints none), is
// redrawn at most twice a second ("es: appended 420,000 events (38,000/s)",
// "es: replay totals: 420,000 of 1,000,000 positions (38,000/s)") and is
// cleared when the work ends, so that what follows on the terminal is as
// without it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace escmd {

class Progress {
 public:
  // The line reads "es: WHAT N [of TOTAL] UNIT (R/s)":
  // Progress("appended", "events").
  Progress(std::string what, std::string unit);
  ~Progress() { clear(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // The total, when known (0: unknown).
  void set_total(std::uint64_t total) { total_ = total; }
  // `done` so far; redraws the line when half a second has passed. Cheap
  // enough to call per event (a clock read, ~20 ns).
  void update(std::uint64_t done);
  // Clears the line (before the result or an error is printed).
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  const bool enabled_;
  bool shown_ = false;
  std::string what_, unit_;
  std::uint64_t total_ = 0;
  Clock::time_point start_, next_;
};

}  // namespace escmd

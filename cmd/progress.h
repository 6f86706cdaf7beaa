// cmd/progress.h: one line of progress for a long command, on a terminal.
//
// Written to stderr, and only when stderr is a terminal: stdout stays the
// command's output, and a script or a pipe into a file sees nothing. The
// line appears after the first second (a quick command prints none), is
// redrawn at most twice a second ("es: replay: 420,000 of 1,000,000 events,
// 38,000/s") and is erased when the work ends, so that what follows on the
// terminal is as without it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace escmd {

class Progress {
 public:
  // `what`: the command ("replay"); `unit`: what is counted ("events").
  Progress(std::string what, std::string unit);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // The total, when known (0: unknown).
  void set_total(std::uint64_t total) { total_ = total; }
  // `done` units so far. Cheap enough to call per unit.
  void update(std::uint64_t done);
  // Erases the line, if one was drawn.
  void finish();

 private:
  using Clock = std::chrono::steady_clock;
  void draw(Clock::time_point now);

  const bool enabled_;
  std::string what_;
  std::string unit_;
  std::uint64_t total_ = 0;
  std::uint64_t done_ = 0;
  Clock::time_point start_;
  Clock::time_point next_draw_;
  std::size_t drawn_ = 0;  // the length of the line on the terminal
};

// 1234567 -> "1,234,567".
std::string with_commas(std::uint64_t n);

}  // namespace escmd

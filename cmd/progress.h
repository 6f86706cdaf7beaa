// cmd/progress.h
//
// Progress of a long command on a terminal: one line on stderr, rewritten
// at most every half second ("es: appended 420,000 events (38,000/s)") and
// cleared when the work ends. Nothing at all when stderr is not a terminal,
// so that logs and pipes see only what they always saw.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace escmd {

class Progress {
 public:
  // The line reads "es: VERB N UNIT (R/s)": Progress("appended", "events").
  Progress(std::string verb, std::string unit);
  ~Progress() { clear(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // `done` so far; rewrites the line when half a second has passed.
  void update(std::uint64_t done);
  // Clears the line (before the result or an error is printed).
  void clear();

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  bool shown_ = false;
  std::string verb_, unit_;
  Clock::time_point start_, next_;
};

}  // namespace escmd

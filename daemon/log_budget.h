// daemon/log_budget.h
//
// A bound on how many lines of one kind the log takes per second (refused
// keys, refused requests): every one is logged up to the budget, the rest
// counted and reported as one line when the next second begins, so that a
// peer retrying in a loop cannot fill the disk with the log.
//
// Thread safety: one thread's.
#pragma once

#include <chrono>
#include <cstdint>

#include <spdlog/spdlog.h>

namespace esd {

class LogBudget {
 public:
  // `what` names the lines dropped: "refused requests".
  LogBudget(int per_second, const char* what) : per_second_(per_second), what_(what) {}

  // Whether this line may be logged; false: it was counted instead.
  bool take() {
    const auto now = std::chrono::steady_clock::now();
    if (now - second_ >= std::chrono::seconds(1)) {
      if (dropped_ > 0) spdlog::warn("{} more {} not logged", dropped_, what_);
      second_ = now;
      taken_ = 0;
      dropped_ = 0;
    }
    if (taken_ < per_second_) {
      ++taken_;
      return true;
    }
    ++dropped_;
    return false;
  }

 private:
  int per_second_;
  const char* what_;
  std::chrono::steady_clock::time_point second_{};
  int taken_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace esd

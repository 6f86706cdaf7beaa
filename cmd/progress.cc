#include "progress.h"

#include <cstdio>

#include "cli/options.h"

#include <unistd.h>

namespace escmd {

namespace {
constexpr auto kInterval = std::chrono::milliseconds(500);
}  // namespace

Progress::Progress(std::string what, std::string unit)
    : enabled_(::isatty(STDERR_FILENO) == 1),
      what_(std::move(what)),
      unit_(std::move(unit)),
      start_(Clock::now()),
      next_(start_ + kInterval) {}

void Progress::clear() {
  if (!shown_) return;
  std::fputs("\r\033[K", stderr);  // to the line's start, then erase it
  std::fflush(stderr);
  shown_ = false;
}

void Progress::update(std::uint64_t done) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (now < next_) return;
  next_ = now + kInterval;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const auto rate = static_cast<std::uint64_t>(static_cast<double>(done) / seconds);
  const std::string of = total_ > 0 ? " of " + escli::with_commas(total_) : "";
  std::fprintf(stderr, "\res: %s %s%s %s (%s/s)\033[K", what_.c_str(),
               escli::with_commas(done).c_str(), of.c_str(), unit_.c_str(),
               escli::with_commas(rate).c_str());
  std::fflush(stderr);
  shown_ = true;
}

}  // namespace escmd

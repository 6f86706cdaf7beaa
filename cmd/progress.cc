#include "progress.h"

#include <cstdio>

#include <fmt/format.h>

#include "cli/options.h"

#include <unistd.h>

namespace escmd {

namespace {
constexpr auto kInterval = std::chrono::milliseconds(500);
}  // namespace

Progress::Progress(std::string verb, std::string unit)
    : enabled_(::isatty(STDERR_FILENO) == 1),
      verb_(std::move(verb)),
      unit_(std::move(unit)),
      start_(Clock::now()),
      next_(start_ + kInterval) {}

void Progress::clear() {
  if (shown_) std::fputs("\r\033[K", stderr);
  shown_ = false;
}

void Progress::update(std::uint64_t done) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (now < next_) return;
  next_ = now + kInterval;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const auto rate = static_cast<std::uint64_t>(static_cast<double>(done) / seconds);
  std::fprintf(stderr, "\res: %s %s %s (%s/s)\033[K", verb_.c_str(),
               escli::with_commas(done).c_str(), unit_.c_str(), escli::with_commas(rate).c_str());
  std::fflush(stderr);
  shown_ = true;
}

}  // namespace escmd

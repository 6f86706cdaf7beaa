#include "progress.h"

#include <cstdio>

#include <fmt/format.h>

#include <unistd.h>

namespace escmd {

std::string with_commas(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

Progress::Progress(std::string what, std::string unit)
    : enabled_(::isatty(STDERR_FILENO) == 1),
      what_(std::move(what)),
      unit_(std::move(unit)),
      start_(Clock::now()),
      next_draw_(start_ + std::chrono::seconds(1)) {}

Progress::~Progress() { finish(); }

void Progress::update(std::uint64_t done) {
  done_ = done;
  if (!enabled_) return;
  const auto now = Clock::now();  // ~20 ns (vDSO): cheap per event
  if (now >= next_draw_) draw(now);
}

void Progress::draw(Clock::time_point now) {
  const double seconds = std::chrono::duration<double>(now - start_).count();
  std::string line = "es: " + what_ + ": " + with_commas(done_);
  if (total_ > 0) line += " of " + with_commas(total_);
  line += " " + unit_;
  if (seconds > 0) line += ", " + with_commas(static_cast<std::uint64_t>(done_ / seconds)) + "/s";
  // Pad over a longer previous line; \r returns to its start.
  std::string out = "\r" + line;
  if (drawn_ > line.size()) out.append(drawn_ - line.size(), ' ');
  std::fputs(out.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = line.size();
  next_draw_ = now + std::chrono::milliseconds(500);
}

void Progress::finish() {
  if (drawn_ == 0) return;
  std::fprintf(stderr, "\r%*s\r", static_cast<int>(drawn_), "");
  std::fflush(stderr);
  drawn_ = 0;
}

}  // namespace escmd

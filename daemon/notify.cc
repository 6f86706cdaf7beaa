#include "notify.h"

#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <time.h>

namespace esd {

namespace {

constexpr auto kStatusEvery = std::chrono::seconds(1);

}  // namespace

Notifier::Notifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  if (!enabled_) return;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, is ours.
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
    watchdog_period_ = std::chrono::microseconds(usec / 2);
}

std::string Notifier::status_line(std::string_view role, std::uint64_t head) {
  return std::string(role) + ", head at position " + std::to_string(head);
}

void Notifier::send(const std::string& message) {
  const int rc = ::sd_notify(0, message.c_str());
  if (rc >= 0 || failed_) return;
  failed_ = true;
  spdlog::warn("cannot notify the service manager ({}): {}", std::getenv("NOTIFY_SOCKET"),
               std::strerror(-rc));
}

void Notifier::ready(std::string_view role, std::uint64_t head) {
  if (!enabled_) return;
  reloaded(role, head);  // the same message
  if (watchdog_period_ > Clock::duration::zero()) {
    send("WATCHDOG=1");
    next_ping_ = Clock::now() + watchdog_period_;
    spdlog::info("systemd watchdog: a keep-alive every {} ms",
                 std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_period_).count());
  }
}

void Notifier::tick(std::string_view role, std::uint64_t head) {
  if (!enabled_) return;
  const auto now = Clock::now();
  if (now >= next_ping_) {
    send("WATCHDOG=1");
    next_ping_ = now + watchdog_period_;
  }
  // Formatted only when something moved: a turn of an idle loop makes no string.
  if (head != wanted_head_ || role != wanted_role_) {
    wanted_head_ = head;
    wanted_role_ = role;
    status_wanted_ = status_line(role, head);
  }
  if (status_wanted_ != status_sent_ && now >= status_sent_at_ + kStatusEvery) {
    status_sent_ = status_wanted_;
    status_sent_at_ = now;
    send("STATUS=" + status_sent_);
  }
}

Notifier::Clock::time_point Notifier::next_due() const {
  if (!enabled_) return Clock::time_point::max();
  auto due = next_ping_;
  if (status_wanted_ != status_sent_) due = std::min(due, status_sent_at_ + kStatusEvery);
  return due;
}

void Notifier::reloading() {
  if (!enabled_) return;
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::uint64_t usec = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
                             static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading");
}

void Notifier::reloaded(std::string_view role, std::uint64_t head) {
  if (!enabled_) return;
  wanted_head_ = head;
  wanted_role_ = role;
  status_wanted_ = status_sent_ = status_line(role, head);
  status_sent_at_ = Clock::now();
  send("READY=1\nSTATUS=" + status_sent_);
}

void Notifier::stopping(std::string_view why) {
  if (!enabled_) return;
  send("STOPPING=1\nSTATUS=stopping: " + std::string(why));
  next_ping_ = Clock::time_point::max();  // the loop is over: no keep-alives from here
}

}  // namespace esd

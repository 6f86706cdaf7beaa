// daemon/notify.h
//
// What esd tells the service manager that started it, over systemd's notify
// protocol (sd_notify(3); a unit with Type=notify):
//   READY=1      once esd serves: the store is recovered, both sockets are
//                bound and the request loop is about to poll. systemd holds
//                units ordered After=esd.service until then.
//   STATUS=      one line for `systemctl status`: the role and the head
//                position, at ready and then at most once a second while it
//                changes.
//   RELOADING=1  when a reload begins, READY=1 again when it is done.
//   STOPPING=1   when a shutdown begins (SIGTERM, es stop, a fatal error).
//   WATCHDOG=1   when the unit sets WatchdogSec= (systemd passes
//                WATCHDOG_USEC, and WATCHDOG_PID naming this process), every
//                half interval.
// The keep-alives are sent by tick(), which only the request loop calls: a
// loop that stops turning (a hung flush, a deadlock, a stopped process)
// stops them, and systemd kills and restarts the unit. next_due() is when
// the loop must wake next for them.
//
// Without NOTIFY_SOCKET (esd not started by systemd) every call is a no-op.
// A message that cannot be sent is logged once and otherwise ignored: the
// service manager is told, never asked.
//
// Thread safety: none; one thread (the request loop's) makes every call.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace esd {

class Notifier {
 public:
  using Clock = std::chrono::steady_clock;

  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once.
  Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // True when a service manager listens (NOTIFY_SOCKET is set).
  bool enabled() const { return enabled_; }
  // The keep-alive period (half of WatchdogSec=); zero when there is none.
  Clock::duration watchdog_period() const { return watchdog_period_; }

  // READY=1 with the first STATUS=. Starts the watchdog's clock.
  void ready(std::string_view role, std::uint64_t head);
  // One turn of the request loop: a WATCHDOG=1 when one is due, and a
  // STATUS= when the role or head changed and the last one is a second old.
  void tick(std::string_view role, std::uint64_t head);
  // When tick() has something to send next: a keep-alive, or a changed
  // status held back by the once-a-second limit. Clock::time_point::max()
  // when nothing is pending.
  Clock::time_point next_due() const;
  // RELOADING=1 (with MONOTONIC_USEC=, which systemd 253's Type=notify-reload
  // wants), then READY=1 with a fresh STATUS= when the reload is done.
  void reloading();
  void reloaded(std::string_view role, std::uint64_t head);
  // STOPPING=1, with `why` as the status line.
  void stopping(std::string_view why);

 private:
  void send(const std::string& message);
  static std::string status_line(std::string_view role, std::uint64_t head);

  bool enabled_ = false;
  bool failed_ = false;  // a send failed already (logged once)
  Clock::duration watchdog_period_{0};
  Clock::time_point next_ping_ = Clock::time_point::max();
  std::string status_sent_;
  std::string status_wanted_;
  std::string wanted_role_;  // what status_wanted_ was made of
  std::uint64_t wanted_head_ = 0;
  Clock::time_point status_sent_at_{};
};

}  // namespace esd

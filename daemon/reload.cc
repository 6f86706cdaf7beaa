// Server::reload(): SIGHUP. Runs on the loop's thread, between two turns,
// so nothing it changes races a request, a commit or the publisher; the
// admission handler and the projection host take their new limits through
// their own setters (an atomic, a mutex).
#include <algorithm>

#include <spdlog/spdlog.h>

#include "logging.h"
#include "server.h"

namespace esd {
namespace {

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

}  // namespace

void Server::reload() {
  // systemd (Type=notify) sees RELOADING=1, then READY=1 whatever came of it:
  // a refused file leaves the node serving on its running settings.
  notifier_.reloading();
  apply_reread_settings();
  notifier_.reloaded(role(), store_.head());
}

void Server::apply_reread_settings() {
  if (!options_.reread_settings) {
    es::Status log = reconfigure_logging(log_options(options_.settings));
    spdlog::info("reload: log reopened{}", log.ok() ? "" : ": " + log.message());
    return;
  }
  es::Result<Settings> next = options_.reread_settings();
  if (!next.ok()) {
    // The log is reopened all the same: logrotate sends SIGHUP after a move.
    (void)reconfigure_logging(log_options(options_.settings));
    spdlog::error("reload refused, the running settings stay: {}", next.status().message());
    return;
  }
  Settings& running = options_.settings;
  std::vector<std::string> applied, restart;
  for (const std::string& key : next->changed(running)) {
    const bool live = find_setting(key)->reload == Reload::kLive;
    (live ? applied : restart).push_back(key);
  }
  for (const std::string& key : applied) running.adopt(*next, key);
  // The log first, so that this reload's line goes where the log now goes;
  // always, so that a file logrotate moved is let go of.
  if (es::Status s = reconfigure_logging(log_options(running)); !s.ok()) {
    spdlog::error("reload: {}; the log stays where it was", s.message());
  }
  admission_->set_max_clients(static_cast<unsigned>(running.number("max-clients")));
  // The allow-list's file is read again whatever changed: keys are added,
  // revoked and given other roles by editing it.
  std::string allow_list;
  if (keyring_->enabled()) {
    auto keys = keyring_->reload();
    if (keys.ok())
      allow_list = "allow-list read again (" + std::to_string(*keys) + " keys)";
    else
      spdlog::error("reload: the allow-list stays as it was: {}", keys.status().message());
  }
  // Only when it changed: libzmq 4.3.4 passes a new SNDHWM on to every pipe
  // the socket has, and its I/O thread crashed (SIGSEGV) on pipes of
  // connections whose CurveZMQ handshake had failed (found by
  // tests/e2e/security_test.sh: a reload after refused clients).
  if (std::find(applied.begin(), applied.end(), "publish-hwm") != applied.end())
    pub_.set(zmq::sockopt::sndhwm, static_cast<int>(running.number("publish-hwm")));
  projections_->set_limits(projection_limits(running),
                           static_cast<unsigned>(running.number("max-projections")));

  std::vector<std::string> shown;
  for (const std::string& key : applied) shown.push_back(key + " " + running.text(key));
  if (!allow_list.empty()) shown.push_back(allow_list);
  // Said at info, or at the new level when that hides info (off: nothing).
  const auto level = std::max(spdlog::level::info, spdlog::get_level());
  spdlog::log(level, "reloaded: {}{}",
              shown.empty() ? "nothing changed" : "applied " + joined(shown),
              restart.empty() ? "" : "; changed, need a restart: " + joined(restart));
}

}  // namespace esd

// daemon/logging.h
//
// esd's log: one line per message on stderr (for the journal), or appended
// to --log-file FILE (mode 0600), in text (the default) or JSON
// (--log-format json, one object per line for log shippers). Every line
// has its time in ISO 8601 with the zone (2026-12-01T21:30:00.123+01:00),
// and its level spelled as --log-level takes it: trace, debug, info, warn,
// error, critical. What each level shows is in esd(8), Logging.
#pragma once

#include <optional>
#include <string>

#include <spdlog/common.h>

#include "es/status.h"

namespace esd {

// The level named `name` (trace, debug, info, warn or warning, error,
// critical, off); nullopt for anything else.
std::optional<spdlog::level::level_enum> parse_log_level(const std::string& name);

struct LogOptions {
  spdlog::level::level_enum level = spdlog::level::info;
  bool json = false;
  std::string file;  // empty: stderr
};

// Makes the default logger esd's. An error (the file cannot be opened)
// leaves the log on stderr.
es::Status setup_logging(const LogOptions& options);

// SIGHUP: applies `options` to the running log and opens its file again
// (by name, so that a file logrotate moved away is left to it and a new
// one is made). A file that cannot be opened keeps the log where it was
// and is the error. Safe against concurrent logging from any thread.
es::Status reconfigure_logging(const LogOptions& options);

}  // namespace esd

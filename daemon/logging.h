// daemon/logging.h
//
// esd's log: one line per message on stderr, in text (the default) or JSON
// (--log-format json, one object per line for log shippers). Every line
// has its time in ISO 8601 with the zone (2026-12-01T21:30:00.123+01:00),
// and its level spelled as --log-level takes it: trace, debug, info, warn,
// error, critical. What each level shows is in esd(8), Logging.
#pragma once

#include <optional>
#include <string>

#include <spdlog/common.h>

namespace esd {

// The level named `name` (trace, debug, info, warn or warning, error,
// critical, off); nullopt for anything else.
std::optional<spdlog::level::level_enum> parse_log_level(const std::string& name);

// Makes the default logger esd's: stderr, `json` or text lines, `level`.
void setup_logging(spdlog::level::level_enum level, bool json);

}  // namespace esd

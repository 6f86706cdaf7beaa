#include "logging.h"

#include <ctime>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "es/json.h"

namespace esd {
namespace {

// One spelling per level, the one --log-level takes ("warn", not spdlog's "warning").
const char* level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

// "2026-12-01T21:30:00.123+01:00": local time, milliseconds, the zone's offset.
std::string iso_time(spdlog::log_clock::time_point at) {
  using namespace std::chrono;
  const auto since = at.time_since_epoch();
  const std::time_t secs = static_cast<std::time_t>(duration_cast<seconds>(since).count());
  const auto ms = duration_cast<milliseconds>(since).count() % 1000;
  std::tm tm{};
  ::localtime_r(&secs, &tm);
  char date[32];
  char zone[8];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  std::strftime(zone, sizeof zone, "%z", &tm);  // +0100
  const std::string z(zone);
  return fmt::format("{}.{:03}{}:{}", date, ms, z.substr(0, 3), z.substr(3, 2));
}

class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(bool json) : json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    std::string line;
    if (json_) {
      line = "{\"time\":\"" + iso_time(msg.time) + "\",\"level\":\"" + level_name(msg.level) +
             "\",\"msg\":";
      es::append_json_string(line, text);
      line += "}\n";
    } else {
      line = fmt::format("{} {} {}\n", iso_time(msg.time), level_name(msg.level), text);
    }
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(json_);
  }

 private:
  bool json_;
};

}  // namespace

std::optional<spdlog::level::level_enum> parse_log_level(const std::string& name) {
  if (name == "warning") return spdlog::level::warn;
  for (int l = spdlog::level::trace; l <= spdlog::level::off; ++l) {
    const auto level = static_cast<spdlog::level::level_enum>(l);
    if (name == level_name(level)) return level;
  }
  return std::nullopt;
}

void setup_logging(spdlog::level::level_enum level, bool json) {
  auto logger = spdlog::stderr_logger_mt("esd");
  logger->set_formatter(std::make_unique<LineFormatter>(json));
  logger->set_level(level);
  spdlog::set_default_logger(logger);
  spdlog::set_level(level);
}

}  // namespace esd

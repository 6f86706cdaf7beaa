#include "logging.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "es/json.h"

#include <fcntl.h>
#include <unistd.h>

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

// Lines go to one descriptor: stderr, or a file opened for appending that
// reopen() swaps for a new one under the sink's lock.
class FdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ~FdSink() override {
    if (fd_ != STDERR_FILENO) ::close(fd_);
  }

  // Writes to `path` from now on (stderr when empty); on an error the
  // lines keep going where they went.
  es::Status reopen(const std::string& path) {
    int fd = STDERR_FILENO;
    if (!path.empty()) {
      fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0)
        return es::Status::io_error("cannot open the log file " + path + ": " +
                                    std::strerror(errno));
    }
    std::lock_guard lock(mutex_);
    if (fd_ != STDERR_FILENO) ::close(fd_);
    fd_ = fd;
    return {};
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {  // a short write or EINTR: the rest follows; an error drops the line
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  void flush_() override {}

 private:
  int fd_ = STDERR_FILENO;
};

std::shared_ptr<FdSink>& the_sink() {
  static std::shared_ptr<FdSink> sink = std::make_shared<FdSink>();
  return sink;
}

}  // namespace

std::optional<spdlog::level::level_enum> parse_log_level(const std::string& name) {
  if (name == "warning") return spdlog::level::warn;
  for (int l = spdlog::level::trace; l <= spdlog::level::off; ++l) {
    const auto level = static_cast<spdlog::level::level_enum>(l);
    if (name == level_name(level)) return level;
  }
  return std::nullopt;
}

es::Status setup_logging(const LogOptions& options) {
  auto logger = std::make_shared<spdlog::logger>("esd", the_sink());
  spdlog::set_default_logger(logger);
  return reconfigure_logging(options);
}

es::Status reconfigure_logging(const LogOptions& options) {
  the_sink()->set_formatter(std::make_unique<LineFormatter>(options.json));
  spdlog::set_level(options.level);
  return the_sink()->reopen(options.file);
}

}  // namespace esd

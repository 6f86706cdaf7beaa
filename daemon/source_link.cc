#include "source_link.h"

#include <spdlog/spdlog.h>

#include "es/client.h"

namespace esd {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

SourceLink::SourceLink(Options options) : options_(std::move(options)), since_us_(now_us()) {}

SourceLink::~SourceLink() { stop(); }

void SourceLink::start() {
  spdlog::info("read node: projections read the log of {}; appends go there", options_.source);
  thread_ = std::thread([this] { run(); });
}

void SourceLink::stop() {
  if (stop_.exchange(true) || !thread_.joinable()) return;
  thread_.join();
  // A goodbye, so that the source lists this node as stopped, not lost; a
  // source that does not answer at once is not waited for.
  es::Client bye(options_.source, es::ClientOptions{milliseconds(250), options_.curve});
  es::protocol::ReplicaReport report{options_.listen, 0, true, "read"};
  (void)bye.replica_report(report);
}

SourceLink::Snapshot SourceLink::snapshot() const {
  std::lock_guard lock(mu_);
  Snapshot s{state_, since_us_, source_head_, std::nullopt, error_};
  if (contact_ != Clock::time_point{}) {
    s.contact_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<milliseconds>(Clock::now() - contact_).count());
  }
  return s;
}

// Moves to `state`; the log hears of it when the link is lost or back.
void SourceLink::set(const std::string& state, const std::string& error) {
  std::lock_guard lock(mu_);
  error_ = error;
  if (state == state_) return;
  if (state == "lost" && state_ == "connecting") {
    spdlog::warn("read node: the source {} does not answer: {}", options_.source, error);
  } else if (state == "lost") {
    spdlog::warn("read node: lost the source {}: {}", options_.source, error);
  } else if (state_ == "lost") {
    spdlog::info("read node: the source {} is back", options_.source);
  } else {
    spdlog::info("read node: connected to the source {}", options_.source);
  }
  state_ = state;
  since_us_ = now_us();
}

void SourceLink::run() {
  es::Client client(options_.source, es::ClientOptions{options_.interval, options_.curve});
  while (!stop_.load()) {
    const auto next = Clock::now() + options_.interval;
    auto hello = client.hello();
    es::Status reported =
        hello.ok()
            ? client.replica_report(es::protocol::ReplicaReport{options_.listen, 0, false, "read"})
                  .status()
            : hello.status();
    if (reported.ok()) {
      {
        std::lock_guard lock(mu_);
        contact_ = Clock::now();
        source_head_ = std::max(source_head_, hello->head);
      }
      set("connected", "");
    } else {
      client.reset();  // nothing stale reaches the source when it is back
      set("lost", reported.message());
    }
    while (!stop_.load() && Clock::now() < next) std::this_thread::sleep_for(milliseconds(50));
  }
}

}  // namespace esd

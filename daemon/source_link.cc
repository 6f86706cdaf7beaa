#include "source_link.h"

#include <fstream>

#include <spdlog/spdlog.h>

#include "es/client.h"
#include "es/whole_file.h"

#include "removals.h"

namespace esd {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Pages of the source's log a turn looks through for removals (each up to
// the source's scan limit per read, 200,000 records).
constexpr int kRemovalPagesPerTurn = 10;

// How far `path` says the source's log was looked at; 0 without it.
es::Position load_seen(const std::string& path) {
  std::ifstream in(path);
  if (!in) return 0;
  es::Position seen = 0;
  if (in >> seen) return seen;
  spdlog::warn(
      "read node: {} holds no position: looking through the source's whole log for "
      "deletions and forgets",
      path);
  return 0;
}

}  // namespace

SourceLink::SourceLink(Options options) : options_(std::move(options)), since_us_(now_us()) {
  if (!options_.seen_file.empty()) seen_ = kept_ = load_seen(options_.seen_file);
}

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
      look_for_removals(client, hello->head);
    } else {
      client.reset();  // nothing stale reaches the source when it is back
      set("lost", reported.message());
    }
    keep_seen();
    while (!stop_.load() && Clock::now() < next) std::this_thread::sleep_for(milliseconds(50));
  }
}

void SourceLink::look_for_removals(es::Client& client, es::Position source_head) {
  es::Position seen = 0;
  {
    std::lock_guard lock(mu_);
    if (found_) return;  // the loop has not rebuilt for them yet
    seen = seen_;
  }
  if (seen > source_head) {
    // Not the log this node looked through: the source was replaced.
    spdlog::warn(
        "read node: the source {} is at position {}, before the {} this node saw: "
        "looking through its whole log for deletions and forgets",
        options_.source, source_head, seen);
    seen = 0;
  }
  es::ReadRequest rq;
  rq.from = seen + 1;
  rq.types = removal_types();
  Removals found;
  es::Position upto = seen;
  for (int page = 0; page < kRemovalPagesPerTurn && upto < source_head && !stop_.load(); ++page) {
    auto read = client.read(rq);
    if (!read.ok()) break;  // looked at again next turn
    for (auto& removed : removals_in(read->events)) found.removed.push_back(std::move(removed));
    upto = read->next - 1;
    if (read->end) break;
    rq.from = read->next;
  }
  std::lock_guard lock(mu_);
  if (found.removed.empty()) {
    seen_ = upto;
    return;
  }
  found.upto = upto;
  found_ = std::move(found);
}

std::optional<SourceLink::Removals> SourceLink::removals_found() {
  std::lock_guard lock(mu_);
  return found_;
}

void SourceLink::removals_done(es::Position upto) {
  std::lock_guard lock(mu_);
  seen_ = upto;
  found_.reset();
}

void SourceLink::keep_seen() {
  es::Position seen = 0;
  {
    std::lock_guard lock(mu_);
    seen = seen_;
  }
  if (options_.seen_file.empty() || seen == kept_) return;
  es::Status s = es::write_whole_file(options_.seen_file, std::to_string(seen) + "\n", 0600,
                                      es::FileReplace::kAllowed, es::FileSync::kDurable);
  if (!s.ok()) {
    if (!keep_failed_)  // said once, not every second
      spdlog::warn("read node: cannot keep how far the source's log was looked at: {}",
                   s.message());
    keep_failed_ = true;
    return;
  }
  if (keep_failed_) spdlog::info("read node: {} written again", options_.seen_file);
  keep_failed_ = false;
  kept_ = seen;
}

}  // namespace esd

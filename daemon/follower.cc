#include "follower.h"

#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "es/client.h"
#include "es/digest.h"
#include "es/sealed.h"
#include "es/subscription.h"

namespace esd {

using es::Code;
using es::Status;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {
// Without a frame or an answer from the primary for this long, the replica
// shows as connecting rather than following.
constexpr milliseconds kContactLimit(3000);
constexpr milliseconds kReportInterval(1000);
constexpr std::uint32_t kPageEvents = 10'000;
}  // namespace

Follower::Follower(es::Store& store, FollowerOptions options, Submit submit)
    : store_(store), options_(std::move(options)), submit_(std::move(submit)) {}

Follower::~Follower() { stop(); }

void Follower::start() {
  spdlog::info("replica: following {} from position {}", options_.primary, store_.head() + 1);
  thread_ = std::thread([this] { run(); });
}

void Follower::stop() {
  stop_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Follower::committed(std::uint64_t tag, const Status& status,
                         std::vector<es::RecordedEvent> not_written) {
  {
    std::lock_guard lock(mu_);
    outcome_.emplace(Outcome{tag, status, std::move(not_written)});
  }
  cv_.notify_all();
}

Follower::Snapshot Follower::snapshot() const {
  std::lock_guard lock(mu_);
  Snapshot s{state_, primary_head_, std::nullopt, error_};
  if (contact_ != Clock::time_point{}) {
    s.contact_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<milliseconds>(Clock::now() - contact_).count());
  }
  if (s.state == "following" && (!s.contact_ms || milliseconds(*s.contact_ms) > kContactLimit))
    s.state = "connecting";
  return s;
}

void Follower::set_state(const std::string& state, const std::string& error) {
  std::lock_guard lock(mu_);
  state_ = state;
  error_ = error;
}

void Follower::touch(es::Position primary_head) {
  std::lock_guard lock(mu_);
  contact_ = Clock::now();
  primary_head_ = std::max(primary_head_, primary_head);
}

void Follower::run() {
  milliseconds backoff(100);
  while (!stop_.load()) {
    Status s = follow_once();
    if (stop_.load()) break;
    if (s.code() == Code::kDiverged || s.code() == Code::kCorruption) {
      spdlog::critical("replica: refusing to follow {}: {}", options_.primary, s.message());
      set_state("diverged", s.message());
      diverged_ = true;
      return;
    }
    if (!s.ok()) {
      spdlog::warn("replica: following {}: {}; trying again", options_.primary, s.message());
      set_state("connecting", s.message());
    }
    for (auto slept = milliseconds(0); slept < backoff && !stop_.load(); slept += milliseconds(50))
      std::this_thread::sleep_for(milliseconds(50));
    backoff = std::min(backoff * 2, kContactLimit / 3);
  }
  set_state("stopped");
}

Status Follower::follow_once() {
  es::Client client(options_.primary, es::ClientOptions{options_.timeout, options_.curve});
  ES_RETURN_IF_ERROR(check_history(client));
  es::SubscriptionOptions so;
  so.from = store_.head() + 1;
  so.page_events = kPageEvents;
  so.filter.raw = true;  // holes too: the copy keeps every position
  so.publish_endpoint = options_.primary_publish;
  so.on_notice = [](const std::string& what) { spdlog::info("replica: {}", what); };
  so.on_batch = [this, &client] { return flush(client); };
  so.on_link = [this](bool up, const std::string& why) {
    set_state(up ? "following" : "connecting", why);
  };
  auto next_report = Clock::now();
  so.on_tick = [&](es::Subscription& sub) -> Status {
    if (Clock::now() < next_report) return {};
    next_report = Clock::now() + kReportInterval;
    if (client.replica_report(es::protocol::ReplicaReport{options_.listen, store_.head()}).ok())
      touch(sub.head_seen());
    return {};  // a primary that does not answer is the subscription's to wait for
  };
  es::Subscription sub(client, so);
  set_state("following");
  Status followed = sub.run(
      [this](const es::RecordedEvent& e) {
        batch_.push_back(e);
        return es::Delivery::kContinue;
      },
      stop_);
  Status flushed = flush(client);
  if (stop_.load()) {
    // A goodbye, so that the cluster view shows it stopped, not lost; a
    // primary that does not answer at once is not waited for.
    es::Client bye(options_.primary, es::ClientOptions{milliseconds(250), options_.curve});
    (void)bye.replica_report(es::protocol::ReplicaReport{options_.listen, store_.head(), true});
  }
  return followed.ok() ? flushed : followed;
}

// Refuses a primary whose log does not hold this store's head with the same
// chain: a different store, or one that lost acknowledged events.
Status Follower::check_history(es::Client& client) {
  auto hello = client.hello();
  if (!hello.ok()) return hello.status();
  touch(hello->head);
  const es::Position head = store_.head();
  if (head == 0) return {};
  if (hello->head < head) {
    return Status(Code::kDiverged,
                  fmt::format("the primary {} is at position {}, behind this replica's head {}: "
                              "it is not the store this replica copied, or it lost events",
                              options_.primary, hello->head, head));
  }
  es::ReadRequest rq;
  rq.from = head;
  rq.limit = 1;
  rq.raw = true;  // the head may be a hole
  auto page = client.read(rq);
  if (!page.ok()) return page.status();
  auto mine = store_.chain_at(head);
  if (!mine.ok()) return mine.status();
  if (page->events.empty() || page->events.front().position != head ||
      page->events.front().chain != *mine) {
    return Status(Code::kDiverged,
                  fmt::format("position {}: the primary {} has chain digest {}, this replica {}: "
                              "their histories differ",
                              head, options_.primary,
                              page->events.empty() ? "none" : es::to_hex(page->events[0].chain),
                              es::to_hex(*mine)));
  }
  return {};
}

// Commits what the subscription delivered and waits for it: nothing is
// taken from the primary beyond what is stored.
Status Follower::flush(es::Client& client) {
  std::vector<es::RecordedEvent> batch;
  batch.swap(batch_);
  ES_RETURN_IF_ERROR(copy_subject_keys(client, batch));
  return commit(std::move(batch));
}

// On a full disk, a batch is halved until what fits is stored: the replica
// holds as much of the log as it has room for, and tries the rest again.
// A batch larger than a journal frame is halved first.
Status Follower::copy_subject_keys(es::Client& client,
                                   const std::vector<es::RecordedEvent>& batch) {
  if (!options_.subject_keys) return {};
  es::protocol::SubjectKeysRequest wanted;
  std::set<std::string> asked;
  for (const auto& e : batch) {
    if (!es::is_sealed(e.data)) continue;
    auto subject = es::subject_of(e.metadata);
    if (!subject.ok() || !*subject || asked.count(**subject) != 0) continue;
    auto have = options_.subject_keys->get(**subject);
    if (!have.ok()) return have.status();
    if (*have) continue;
    asked.insert(**subject);
    wanted.subjects.push_back(**subject);
  }
  for (std::size_t at = 0; at < wanted.subjects.size(); at += es::protocol::kMaxSubjectKeys) {
    es::protocol::SubjectKeysRequest part;
    const std::size_t end = std::min(wanted.subjects.size(), at + es::protocol::kMaxSubjectKeys);
    part.subjects.assign(wanted.subjects.begin() + static_cast<std::ptrdiff_t>(at),
                         wanted.subjects.begin() + static_cast<std::ptrdiff_t>(end));
    auto got = client.subject_keys(part);
    if (!got.ok()) return got.status();
    for (const auto& k : got->keys) {
      if (asked.count(k.subject) == 0) continue;  // only what was asked for
      ES_RETURN_IF_ERROR(options_.subject_keys->put(k.subject, k.key));
    }
  }
  return {};
}

Status Follower::commit(std::vector<es::RecordedEvent> batch) {
  if (batch.empty()) return {};
  std::size_t bytes = 0;
  for (const auto& e : batch) bytes += es::Store::frame_bytes(e);
  std::vector<es::RecordedEvent> back;
  Status s;
  if (bytes > store_.max_group_bytes() && batch.size() > 1) {
    back = std::move(batch);
  } else {
    s = commit_once(std::move(batch), &back);
    if (s.code() != Code::kDiskFull || back.size() < 2) return s;
  }
  const auto half = back.begin() + static_cast<std::ptrdiff_t>(back.size() / 2);
  ES_RETURN_IF_ERROR(
      commit({std::make_move_iterator(back.begin()), std::make_move_iterator(half)}));
  return commit({std::make_move_iterator(half), std::make_move_iterator(back.end())});
}

Status Follower::commit_once(std::vector<es::RecordedEvent> batch,
                             std::vector<es::RecordedEvent>* not_written) {
  const std::uint64_t tag = next_tag_++;
  const es::Position last = batch.back().position;
  if (!submit_(std::move(batch), tag)) return Status::unavailable("the node is stopping");
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return stop_.load() || (outcome_ && outcome_->tag == tag); });
  if (!outcome_ || outcome_->tag != tag) return Status::unavailable("the node is stopping");
  Status s = std::move(outcome_->status);
  *not_written = std::move(outcome_->not_written);
  outcome_.reset();
  lock.unlock();
  if (s.ok()) touch(last);
  return s;
}

}  // namespace esd

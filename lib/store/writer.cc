#include "es/writer.h"

#include <spdlog/spdlog.h>

namespace es {

Writer::Writer(Store& store, Options options, OnGroup on_group)
    : store_(store),
      options_(options),
      on_group_(std::move(on_group)),
      thread_([this] { run(); }) {}

Writer::~Writer() { close(); }

bool Writer::submit(AppendRequest request, std::uint64_t tag) {
  return enqueue(Pending{WriteItem{tag, std::move(request), std::nullopt}, std::nullopt});
}

bool Writer::submit(std::vector<Checkpoint> checkpoints, std::uint64_t tag) {
  return enqueue(Pending{WriteItem{tag, AppendRequest{}, std::move(checkpoints)}, std::nullopt});
}

bool Writer::submit_replicated(std::vector<RecordedEvent> events, std::uint64_t tag) {
  return enqueue(Pending{WriteItem{tag, AppendRequest{}, std::nullopt}, std::move(events)});
}

bool Writer::enqueue(Pending pending) {
  {
    std::lock_guard lock(mu_);
    if (closed_ || failed_) return false;
    queue_.push_back(std::move(pending));
  }
  cv_.notify_one();
  return true;
}

void Writer::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool Writer::is_failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

std::size_t Writer::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool GroupBudget::take(const AppendRequest& request) {
  const std::size_t n = request.events.size();
  const std::size_t b = Store::frame_bytes(request);
  if (appends_ > 0 && (events_ + n > max_events_ || bytes_ + b > max_bytes_)) return false;
  events_ += n;
  bytes_ += b;
  ++appends_;
  return true;
}

bool Writer::pop_group(std::vector<Pending>* group) {
  group->clear();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !queue_.empty() || closed_ || failed_; });
  if (failed_ || queue_.empty()) return false;
  GroupBudget budget(options_.max_group_events, store_.max_group_bytes());
  while (!queue_.empty()) {
    // A replicated batch is a group of its own.
    if (queue_.front().replicated) {
      if (group->empty()) {
        group->push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      break;
    }
    if (!budget.take(queue_.front().item.request)) break;  // one journal frame's worth
    group->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return true;
}

// Hands `outcome` on; false when its failure is fatal to the writer.
bool Writer::report(GroupOutcome&& outcome) {
  const Code code = outcome.status.code();
  const bool fatal = code != Code::kOk && code != Code::kDiskFull && code != Code::kDiverged;
  if (fatal) {
    spdlog::critical("writer: commit failed, no further appends are acknowledged: {}",
                     outcome.status.to_string());
    std::lock_guard lock(mu_);
    failed_ = true;
  }
  on_group_(std::move(outcome));
  return !fatal;
}

GroupOutcome commit_group(Store& store, std::span<WriteItem> items) {
  std::vector<const AppendRequest*> requests;
  std::vector<std::uint64_t> append_tags;
  std::vector<std::pair<std::uint64_t, std::size_t>> checkpoint_moves;  // tag, how many
  std::vector<Checkpoint> checkpoints;
  for (auto& p : items) {
    if (p.checkpoints) {
      checkpoint_moves.emplace_back(p.tag, p.checkpoints->size());
      for (auto& c : *p.checkpoints) checkpoints.push_back(std::move(c));
    } else {
      requests.push_back(&p.request);
      append_tags.push_back(p.tag);
    }
  }
  std::vector<Result<AppendResult>> results;
  std::vector<Result<Position>> checkpoint_results;
  GroupOutcome outcome;
  outcome.status =
      store.append_group(requests, &results, &outcome.committed, checkpoints, &checkpoint_results);
  for (std::size_t i = 0; i < append_tags.size(); ++i) {
    outcome.results.emplace_back(append_tags[i], outcome.status.ok()
                                                     ? std::move(results[i])
                                                     : Result<AppendResult>(outcome.status));
  }
  std::size_t at = 0;
  for (const auto& [tag, count] : checkpoint_moves) {
    Result<std::vector<Position>> moved = std::vector<Position>();
    if (!outcome.status.ok()) moved = outcome.status;
    for (std::size_t i = at; i < at + count && moved.ok(); ++i) {
      if (checkpoint_results[i].ok()) {
        moved->push_back(*checkpoint_results[i]);
      } else {
        moved = checkpoint_results[i].status();
      }
    }
    at += count;
    outcome.checkpoint_results.emplace_back(tag, std::move(moved));
  }
  return outcome;
}

void Writer::run() {
  std::vector<Pending> group;
  std::vector<WriteItem> items;
  while (pop_group(&group)) {
    if (group.front().replicated) {
      GroupOutcome outcome;
      outcome.replicated_tag = group.front().item.tag;
      outcome.status = store_.replicate(*group.front().replicated, &outcome.committed);
      if (!outcome.status.ok()) outcome.not_written = std::move(*group.front().replicated);
      if (!report(std::move(outcome))) break;
      continue;
    }
    items.clear();
    for (auto& p : group) items.push_back(std::move(p.item));
    if (!report(commit_group(store_, items))) break;
  }
  // Whatever is still queued after a failure is answered, not dropped.
  std::deque<Pending> rest;
  {
    std::lock_guard lock(mu_);
    rest.swap(queue_);
  }
  if (!rest.empty()) {
    GroupOutcome outcome;
    outcome.status = Status::io_error("the store failed; this append was not written");
    for (auto& p : rest) {
      if (p.replicated) {
        GroupOutcome dropped;
        dropped.replicated_tag = p.item.tag;
        dropped.status = outcome.status;
        on_group_(std::move(dropped));
      } else if (p.item.checkpoints) {
        outcome.checkpoint_results.emplace_back(p.item.tag,
                                                Result<std::vector<Position>>(outcome.status));
      } else {
        outcome.results.emplace_back(p.item.tag, Result<AppendResult>(outcome.status));
      }
    }
    on_group_(std::move(outcome));
  }
}

}  // namespace es

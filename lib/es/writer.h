// es/writer.h
//
// The Writer owns every write to a Store: one thread takes all queued
// appends and checkpoint moves as a group (up to max_group_events events and
// one journal frame's bytes), commits them together (Store::append_group:
// each checked on its own, one journal write and one flush for the group),
// and only then hands the outcome to `on_group`, which replies and publishes.
//
// Events copied from a primary (on a replica) are committed as a group of
// their own. A group whose transaction fails with kDiskFull or kDiverged is
// reported to each of its submitters and the Writer goes on. Any other storage error (kIOError,
// ...) is fatal: the Writer reports it, stops taking work and is_failed() turns true; nothing after
// it is acknowledged.
//
// Thread safety: submit() from any thread. on_group runs on the writer
// thread, once per group, in commit (position) order.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "es/store.h"

namespace es {

struct GroupOutcome {
  // One per submitted append, in submission order: its tag and outcome.
  std::vector<std::pair<std::uint64_t, Result<AppendResult>>> results;
  // One per submitted checkpoint move: its tag and the positions its
  // checkpoints hold afterwards (a failed one fails the whole move).
  std::vector<std::pair<std::uint64_t, Result<std::vector<Position>>>> checkpoint_results;
  std::vector<RecordedEvent> committed;  // in position order
  Status status;                         // the transaction's own outcome
  // Set when the group was a batch copied from a primary (submit_replicated):
  // its tag. `status` is then its outcome (kDiverged: nothing written).
  std::optional<std::uint64_t> replicated_tag;
  // That batch handed back when it was not written (say, the disk is full).
  std::vector<RecordedEvent> not_written;
};

// An append or a checkpoint move on its way into a group, with the tag its
// outcome comes back with.
struct WriteItem {
  std::uint64_t tag = 0;
  AppendRequest request;                               // an append, unless:
  std::optional<std::vector<Checkpoint>> checkpoints;  // set: checkpoint moves
};

// What a commit group holds so far against its caps (max_group_events
// events, one journal frame's bytes): the Writer's groups and esd's bursts
// count with it.
class GroupBudget {
 public:
  GroupBudget(std::size_t max_events, std::size_t max_bytes)
      : max_events_(max_events), max_bytes_(max_bytes) {}
  // Counts `request` in, unless the group holds appends already and it
  // would go over a cap (then the group is full: false).
  bool take(const AppendRequest& request);
  void reset() { events_ = bytes_ = appends_ = 0; }

 private:
  std::size_t max_events_, max_bytes_;
  std::size_t events_ = 0, bytes_ = 0, appends_ = 0;
};

// Commits `items` as one group (Store::append_group) on the calling thread
// and gives each tag its outcome: what the Writer's thread does with every
// group it takes, and what esd's request loop does with the writes of one
// burst of requests (no thread hand-off on the way to the journal).
GroupOutcome commit_group(Store& store, std::span<WriteItem> items);

class Writer {
 public:
  struct Options {
    std::size_t max_group_events = 20'000;
  };
  using OnGroup = std::function<void(GroupOutcome&&)>;

  Writer(Store& store, Options options, OnGroup on_group);
  ~Writer();  // close()s
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Queues an append; its outcome comes back through on_group with `tag`.
  // Returns false when the writer is closed or failed (nothing was queued).
  bool submit(AppendRequest request, std::uint64_t tag);
  // Queues checkpoint moves (possibly none: the reply then still comes after
  // everything queued before it); the outcome comes back in checkpoint_results.
  bool submit(std::vector<Checkpoint> checkpoints, std::uint64_t tag);
  // Queues events copied from a primary (Store::replicate), committed in a
  // transaction of their own.
  bool submit_replicated(std::vector<RecordedEvent> events, std::uint64_t tag);
  // Stops taking appends, commits everything queued, joins the thread.
  void close();
  bool is_failed() const;
  std::size_t queued() const;

 private:
  struct Pending {
    WriteItem item;
    std::optional<std::vector<RecordedEvent>> replicated;  // set: copied from a primary
  };
  bool enqueue(Pending pending);
  void run();
  bool report(GroupOutcome&& outcome);
  bool pop_group(std::vector<Pending>* group);

  Store& store_;
  Options options_;
  OnGroup on_group_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  bool closed_ = false;
  bool failed_ = false;
  std::thread thread_;
};

}  // namespace es

// daemon/follower.h
//
// The Follower makes a node a replica. Its thread follows the primary with
// an es::Subscription (catch-up, then live, with gap repair and reconnects),
// from this store's head on, and hands what arrives to the Writer in
// batches (a catch-up page or a live frame each), waiting for each batch's
// commit before taking more: a replica never acknowledges, publishes or
// serves an event it has not stored durably, and resumes from its own head
// after any restart.
//
// Integrity: before copying, it checks that the primary holds this store's
// head with the same chain digest (es/digest.h); every copied event's chain
// is then checked by the store. A primary whose history differs (a
// different store, or one that lost acknowledged events) makes the
// Follower stop in state "diverged", and esd exits: it never serves a log
// that differs from its primary's.
//
// Every second it reports its listen endpoint and head to the primary,
// which lists its replicas in its status (what `es nodes` discovers).
//
// Thread safety: start/stop/committed/snapshot from the server loop; the
// thread is the Follower's own.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "es/curve.h"
#include "es/store.h"
#include "es/subject_keys.h"

namespace es {
class Client;
}

namespace esd {

struct FollowerOptions {
  std::string primary;          // its request endpoint
  std::string primary_publish;  // empty: as its hello says
  std::string listen;           // this node's, reported to the primary
  es::CurveClient curve;        // the keys it presents (keyring.h); none: empty
  // Where the keys of the data subjects it copies go (es/subject_keys.h);
  // null: none are copied, and their data reads as redacted here.
  std::shared_ptr<es::SubjectKeys> subject_keys;
  std::chrono::milliseconds timeout{1000};
};

class Follower {
 public:
  // Queues a batch for the Writer; its outcome comes back by committed().
  using Submit = std::function<bool(std::vector<es::RecordedEvent>, std::uint64_t tag)>;

  Follower(es::Store& store, FollowerOptions options, Submit submit);
  ~Follower();  // stop()s
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  void start();
  // Stops following and joins the thread (within about a client timeout).
  void stop();
  // The outcome of the batch submitted with `tag`, and the batch itself
  // when it was not written.
  void committed(std::uint64_t tag, const es::Status& status,
                 std::vector<es::RecordedEvent> not_written);

  struct Snapshot {
    std::string state;  // connecting | following | stopped | diverged
    es::Position primary_head = 0;
    // Since the primary last answered or sent a frame; none before the first.
    std::optional<std::uint64_t> contact_ms;
    std::string error;
  };
  Snapshot snapshot() const;
  // True once the primary's history was found to differ: the node must stop.
  bool diverged() const { return diverged_.load(); }

 private:
  void run();
  es::Status follow_once();
  es::Status check_history(es::Client& client);
  es::Status flush(es::Client& client);
  // Copies from the primary the keys of the subjects of `batch`'s sealed
  // events that this node lacks, before the batch is stored.
  es::Status copy_subject_keys(es::Client& client, const std::vector<es::RecordedEvent>& batch);
  es::Status commit(std::vector<es::RecordedEvent> batch);
  es::Status commit_once(std::vector<es::RecordedEvent> batch,
                         std::vector<es::RecordedEvent>* not_written);
  void set_state(const std::string& state, const std::string& error = {});
  void touch(es::Position primary_head);

  es::Store& store_;
  FollowerOptions options_;
  Submit submit_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> diverged_{false};
  std::thread thread_;
  std::vector<es::RecordedEvent> batch_;
  std::uint64_t next_tag_ = 1;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  struct Outcome {
    std::uint64_t tag;
    es::Status status;
    std::vector<es::RecordedEvent> not_written;
  };
  std::optional<Outcome> outcome_;  // the last batch's
  std::string state_ = "connecting";
  std::string error_;
  es::Position primary_head_ = 0;
  std::chrono::steady_clock::time_point contact_{};
};

}  // namespace esd

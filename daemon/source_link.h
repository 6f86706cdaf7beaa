// daemon/source_link.h
//
// A read node's link to its source. A node started with --project-from
// holds no copy of the log: its hosted projections read the source's log
// (each worker with a subscription of its own). The SourceLink's thread
// asks the source every second for its head and reports this node to it
// (kReplicaReport with role "read"), so that the source lists it beside its
// replicas and `es nodes` finds it. Its state is what `es status` and
// `es project status` show of the link: connecting (no answer yet),
// connected, or lost (an answer is overdue), with since when; the log says
// it once when the link is lost and once when it is back.
//
// Thread safety: start/stop/snapshot from the server loop; the thread is
// the SourceLink's own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "es/curve.h"
#include "es/types.h"

namespace esd {

class SourceLink {
 public:
  struct Options {
    std::string source;     // its request endpoint
    std::string listen;     // this node's, reported to the source
    es::CurveClient curve;  // the keys it presents (keyring.h); none: empty
    std::chrono::milliseconds interval{1000};
  };
  explicit SourceLink(Options options);
  ~SourceLink();  // stop()s
  SourceLink(const SourceLink&) = delete;
  SourceLink& operator=(const SourceLink&) = delete;

  void start();
  // Stops the thread, after a last report saying this node is stopping.
  void stop();

  struct Snapshot {
    std::string state;          // connecting | connected | lost
    std::int64_t since_us = 0;  // wall clock, µs since the epoch: when it became so
    es::Position source_head = 0;
    std::optional<std::uint64_t> contact_ms;  // since the source last answered
    std::string error;                        // why it is lost
  };
  Snapshot snapshot() const;

 private:
  void run();
  void set(const std::string& state, const std::string& error);

  Options options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::string state_ = "connecting";
  std::int64_t since_us_ = 0;
  std::string error_;
  es::Position source_head_ = 0;
  std::chrono::steady_clock::time_point contact_{};
};

}  // namespace esd

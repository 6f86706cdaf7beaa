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
// It also follows the source's deletions and forgets (daemon/removals.h):
// each second it reads the source's log past what it has looked at, for
// $deleted, $tombstone and $forgotten events only, and hands what it finds
// to the server loop (removals_found), which rebuilds this node's
// projections and says so (removals_done); only then does it look further.
// How far it has looked is kept in `seen_file` (synced), so that a
// deletion or a forget made while this node was down, or before a rebuild
// it found was begun, is acted on after a restart (at worst twice: a
// second rebuild is only work). Without that file (a new read node, or one
// restored from a backup) it looks through the source's whole log once.
//
// Thread safety: start/stop/snapshot/removals_found/removals_done from the
// server loop; the thread is the SourceLink's own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "es/client.h"
#include "es/curve.h"
#include "es/types.h"

namespace esd {

class SourceLink {
 public:
  struct Options {
    std::string source;     // its request endpoint
    std::string listen;     // this node's, reported to the source
    es::CurveClient curve;  // the keys it presents (keyring.h); none: empty
    std::string seen_file;  // how far the source's log was looked at for removals
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

  // Removals found in the source's log up to position `upto` that this
  // node's projections were not rebuilt for yet (removals_in's entries).
  struct Removals {
    std::vector<std::string> removed;
    es::Position upto = 0;
  };
  // What was found; nullopt: nothing new. The same until removals_done.
  std::optional<Removals> removals_found();
  // The projections are being rebuilt for what removals_found gave, up to
  // `upto`: the link looks further.
  void removals_done(es::Position upto);

 private:
  void run();
  void set(const std::string& state, const std::string& error);
  // Reads the source's log past seen_ (some pages a turn) for removals.
  void look_for_removals(es::Client& client, es::Position source_head);
  // Writes seen_ to seen_file when it moved.
  void keep_seen();

  Options options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::string state_ = "connecting";
  std::int64_t since_us_ = 0;
  std::string error_;
  es::Position source_head_ = 0;
  std::chrono::steady_clock::time_point contact_{};
  // Removals: the source's log was looked at up to seen_, and seen_file
  // says kept_ (written by the thread only); found_ waits for the loop.
  es::Position seen_ = 0;
  es::Position kept_ = 0;
  bool keep_failed_ = false;
  std::optional<Removals> found_;
};

}  // namespace esd

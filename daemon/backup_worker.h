// daemon/backup_worker.h
//
// Runs hot backups (store/backup.h) off the request loop, on a thread of
// its own, one at a time: the node keeps serving while it copies. The loop
// starts one with start(); when the copy is made and checked, the worker's
// thread wakes the loop through an inproc PAIR (done_socket()), and the
// loop takes the outcome with finish() and answers the client.
//
// Thread safety: start(), finish(), running() and the destructor belong to
// the loop's thread; the worker's thread touches only what start() gave it
// and its end of the PAIR until it is joined.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "es/projection_store.h"
#include "es/store.h"

#include "store/backup.h"

namespace esd {

class BackupWorker {
 public:
  // Who asked, and what came of it.
  struct Outcome {
    std::string identity;
    std::uint64_t request_id = 0;
    std::string dir;
    es::Result<es::store::BackupReport> report = es::Status::unavailable("not run");
  };

  BackupWorker(zmq::context_t& ctx, es::Store& store, const es::ProjectionStore& projections,
               es::store::BackupOptions options);
  ~BackupWorker();  // waits for a backup that runs
  BackupWorker(const BackupWorker&) = delete;
  BackupWorker& operator=(const BackupWorker&) = delete;

  // Starts a backup into `dir`; kBusy while one runs (naming its directory).
  es::Status start(std::string identity, std::uint64_t request_id, std::string dir);
  bool running() const { return thread_.joinable(); }
  const std::string& dir() const { return outcome_.dir; }
  // Readable once a backup is done.
  zmq::socket_t& done_socket() { return done_in_; }
  // Waits for the running backup to end (at once after done_socket() was
  // readable) and returns its outcome; nullopt when none runs.
  std::optional<Outcome> finish();

 private:
  es::Store& store_;
  const es::ProjectionStore& projections_;
  const es::store::BackupOptions options_;
  zmq::socket_t done_in_;   // the loop's end
  zmq::socket_t done_out_;  // the worker thread's end
  Outcome outcome_;         // the worker thread's until joined
  std::thread thread_;
};

}  // namespace esd

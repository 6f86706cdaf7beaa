// store/backup.h (private)
//
// A hot backup: a copy of a node's stores, taken while the node serves,
// that esd opens as a data directory (`esd --data DIR`). Its layout:
//   DIR/                      mode 0700
//   DIR/data.mdb              the log's LMDB, compacted (as `mdb_copy -c`)
//   DIR/projections/          mode 0700
//   DIR/projections/data.mdb  the hosted projections' LMDB, compacted
// (files 0600, synced with their directories). There is no journal in it:
// everything the copy holds is in LMDB, and esd makes a new journal when it
// opens the copy.
//
// Guarantees of backup():
//   - the copy's head is at least the head the store had acknowledged when
//     backup() was called (every append acknowledged before it is in it);
//   - every projection checkpoint in the copy is at most the copy's head
//     (when the projections read this node's log: BackupOptions):
//     the projections are copied first, then the log, once LMDB holds
//     every event that was durable after the projections' snapshot (a
//     projection only folds durable events), so the copy is the state of
//     a node whose projections were a little behind its log, as they may
//     be at any time; they catch up from their checkpoints;
//   - the copy passes check_copy() before backup() returns ok; on any
//     failure what backup() made in DIR is removed.
// Appends go on while it copies (see Store::copy_to); the caller runs it
// off the request loop, one at a time.
//
// Thread safety: backup() may run beside every other use of the stores.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "es/event.h"
#include "es/result.h"

namespace es {
class Store;
class ProjectionStore;
}  // namespace es

namespace es::store {

// What a check of a copy found (check_copy).
struct CopyCheck {
  Position head = 0;  // the copy's last position
  Chain chain{};      // the chain digest at it
  std::uint64_t events = 0;
  std::uint64_t holes = 0;        // of them, removed events (deletion, retention)
  std::uint64_t checkpoints = 0;  // projection checkpoints (every generation)
  Position max_checkpoint = 0;    // the highest of them
};

struct BackupReport {
  std::string dir;
  Position acknowledged = 0;  // the store's head when the backup began
  CopyCheck copy;
  std::uint64_t log_bytes = 0;
  std::uint64_t projection_bytes = 0;
  std::chrono::microseconds took{0};
};

// Whose log the hosted projections read: this node's (their checkpoints
// are positions in the copy's log, at most its head) or another node's
// (esd --project-from: positions in that log, not compared).
enum class ProjectionsRead { kThisLog, kAnotherLog };

struct BackupOptions {
  ProjectionsRead projections = ProjectionsRead::kThisLog;
  // A testing aid (ESD_FAILPOINT=backup-pause:MS): a wait between the copy
  // of the projections and that of the log, so that a test can see what
  // happens meanwhile.
  std::chrono::milliseconds pause{0};
};

// es compact: rewrites a stopped node's data directory in place, so that
// no space LMDB freed (deleted events, old projection states) keeps old
// bytes: the log and the projections are copied compacted (mdb_copy -c)
// beside themselves, synced and renamed over the originals, and the
// journal (everything in it is in LMDB by then) is overwritten with zeros,
// synced and removed (the node makes a new one when it starts). Refused
// while a node has the directory (kBusy).
struct CompactReport {
  std::uint64_t log_before = 0, log_after = 0;
  std::uint64_t projections_before = 0, projections_after = 0;
  std::uint64_t journal_zeroed = 0;
};
Result<CompactReport> compact(const std::string& dir);

// Refuses `dir` unless it is an absolute path that does not exist or is an
// empty directory (kInvalidArgument naming it); makes it (and its parents)
// with mode 0700.
Status prepare_backup_dir(const std::string& dir);

// Copies `store` and `projections` into `dir` (prepare_backup_dir's rules;
// not inside the store's data directory), then checks the copy.
Result<BackupReport> backup(Store& store, const ProjectionStore& projections,
                            const std::string& dir, const BackupOptions& options = {});

// Checks a backup in `dir` without writing into it: its store format, every event's chain from
// position 1 without a gap (what `es verify --data` checks), and that no projection checkpoint is
// past the head (unless they read another node's log). kCorruption names
// what does not hold. Only LMDB is read:
// in a data directory, what its journal holds beyond LMDB is not seen
// (es verify --data opens the store, which replays it, and checks that).
Result<CopyCheck> check_copy(const std::string& dir,
                             ProjectionsRead projections = ProjectionsRead::kThisLog);

// Puts the backup in `backup` in place as the data directory `data` of a
// stopped node: checks the backup (check_copy, but for the projections'
// checkpoints, which backup() checked knowing whose log they read), refuses a `data` that a
// running esd holds (its esd.lock: kBusy) or that is not empty
// (kInvalidArgument), then copies the backup's files into it (directories
// 0700, files 0600, synced), holding its esd.lock meanwhile so that no esd
// opens it half made. On a failure what it made is removed. Returns the
// backup's check; the caller opens the store to check the result.
Result<CopyCheck> restore_backup(const std::string& backup, const std::string& data);

}  // namespace es::store

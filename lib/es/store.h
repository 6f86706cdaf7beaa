// es/store.h
//
// A Store is an append-only log of events grouped into streams, kept in one
// LMDB environment per data directory. Each event gets a per-stream version
// (0, 1, ...) and a store-wide position (1, 2, ...), gapless, in commit order.
// An append is all-or-nothing, also across streams, and optimistic: a stale
// expectation fails with Code::kWrongExpectedVersion naming both versions.
// Appends are idempotent by event id: re-sending events already stored at the
// same place returns the original positions and writes nothing.
//
// On-disk layout (schema version kFormatVersion): a journal (store/journal.h)
// in front of one LMDB environment with these named databases:
//   "log"     position:u64be                 -> record (store/codec.h), with its chain
//                                               digest (es/digest.h)
//   "streams" name                           -> id:u64le last_version:u64le last_position:u64le
//   "index"   stream_id:u64be version:u64be  -> position:u64le
//   "ids"     event id (16 bytes)            -> position:u64le
//   "meta"    "format" -> u32le, "next_stream_id" -> u64le,
//             "journal" -> lap:u64le offset:u64le (where the frame after the
//             last one applied starts)
//   "checkpoints" subscription name      -> position:u64le
// No MDB_DUPSORT anywhere. A "streams" row may have a fourth u64le: the
// first version still indexed (what deletion and retention removed lies
// before it; 0 when the row has three).
//
// Deletion and retention (es/stream_rules.h): the rules a stream's metadata
// stream sets apply to reads as soon as the event that sets them is
// committed; the applier then removes the events they hide, in its own
// LMDB transactions (after each batch for the streams it touched, and
// every second for rules by age): the index and id entries go, and the log
// record becomes a hole (store/codec.h) that keeps the position, stream,
// version, time and chain digest. LMDB reuses the freed pages. Appends to a
// tombstoned stream fail with Code::kStreamDeleted.
//
// Durability: a commit group is acknowledged once its frame is durable in
// the journal (one write and one fdatasync); a background thread (the
// applier) then brings LMDB up to date in large batches with LMDB's full
// sync, and only after that commit is the frame's ring space reused. Reads
// see LMDB plus an in-memory tail of what is journaled but not yet applied
// (store/tail.h). Opening a store replays the journal's frames after LMDB's
// head first. Any storage error on the way (a failed write or flush of the
// journal, or an LMDB commit that fails for another reason than a full map)
// fails the store for good: failure() says why, and nothing after it is
// acknowledged.
//
// Thread safety: reads are safe from any thread and never block appends.
// append_group() and replicate() serialize themselves (the Writer is meant
// to be the only caller). Only one Store may have a directory open: the
// directory's esd.lock is held exclusively (flock) for the Store's lifetime.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "es/event.h"
#include "es/result.h"
#include "es/stream_rules.h"

struct MDB_env;

namespace es {

namespace metrics {
struct StoreMetrics;
}  // namespace metrics

namespace store {
class Journal;
class Tail;
class IdFilters;
class Txn;
struct JournalAt;
}  // namespace store

// The smallest journal (StoreOptions::journal_size).
inline constexpr std::uint64_t kMinJournalBytes = 256u << 10;

struct StoreOptions {
  std::size_t initial_map_size = 64u << 20;
  unsigned max_readers = 256;
  // The journal's size in bytes. 0: an existing journal keeps its size, a
  // new one gets 128 MiB, or a 16th of the disk's free space where that is
  // less (at least 256 KiB). A different size remakes the journal once
  // recovery has applied it.
  std::uint64_t journal_size = 0;
  // Where the store counts its journal writes and LMDB applies (esd's
  // /metrics, metrics/metrics.h); none: not counted. Must outlive the Store.
  metrics::StoreMetrics* metrics = nullptr;
  // The id filter (store/id_filter.h) is sized for at least this many ids
  // (16 bits each); tests make it small to see it rebuilt.
  std::uint64_t id_filter_min_ids = std::uint64_t{1} << 20;
};

class Store {
 public:
  static inline constexpr std::uint32_t kFormatVersion = 2;

  static Result<std::unique_ptr<Store>> open(const std::string& dir, const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies `requests` in order in one write transaction, each checked on its
  // own (a conflict fails that request alone). `results` gets one entry per
  // request; `committed` gets every event written, in position order. A
  // non-ok return means the transaction failed as a whole and nothing was
  // written: kDiskFull (esd goes on) or kIOError (fatal for the writer).
  // Callers are serialized; the Writer is meant to be the only one.
  // `checkpoints` are moved in the same transaction, after the appends, each
  // checked on its own: forward only (an older position leaves the stored
  // one), never beyond the head. `checkpoint_results` gets the position each
  // name holds afterwards. A checkpoint with `remove` deletes that name
  // (kNotFound when there is none); its result is the position it had.
  Status append_group(std::span<const AppendRequest* const> requests,
                      std::vector<Result<AppendResult>>* results,
                      std::vector<RecordedEvent>* committed,
                      std::span<const Checkpoint> checkpoints = {},
                      std::vector<Result<Position>>* checkpoint_results = nullptr);

  // Copies events from a primary (a replica's only way of writing the log),
  // in one write transaction: they must follow the head without a gap, and
  // each one's chain must equal the one this store computes for it; anything
  // else fails with Code::kDiverged and writes nothing. `committed` gets the
  // events written. Called by the Writer, like append_group.
  Status replicate(std::span<const RecordedEvent> events, std::vector<RecordedEvent>* committed);

  // One append, committed on its own; safe from any thread.
  Result<AppendResult> append(const AppendRequest& request);

  // Checks an append's shape and limits before it is queued: names, ids,
  // sizes. The JSON of data and metadata must already be canonical.
  static Status validate(const AppendRequest& request);
  // At least the bytes `request` takes in a journal frame.
  static std::size_t frame_bytes(const AppendRequest& request);
  static std::size_t frame_bytes(const RecordedEvent& event);
  // The most a commit group may take in a frame (half the journal's ring);
  // a single append over it is refused.
  std::size_t max_group_bytes() const;
  // Not ok once a storage error has failed the store (see above).
  Status failure() const;
  // Waits until LMDB holds everything committed so far (the applier is
  // asked not to wait for a batch to gather); kDiskFull when LMDB cannot
  // grow. For tests, and before copying data.mdb.
  Status wait_applied();
  // Writes a compacted copy of LMDB (as `mdb_copy -c`: mdb_env_copyfd2 with
  // MDB_CP_COMPACT) to `fd`, taken once LMDB holds every event that was
  // durable when copy_to was called. Appends go on meanwhile: the wait for
  // the applier does not hold the writer, and the copy reads a snapshot.
  // A growth of the map waits until the copy ends (no transaction may be
  // open while LMDB resizes it), so appends go on while the journal has
  // room. The copy holds no journal: esd makes a new one when it opens it.
  // Does not sync `fd`.
  Status copy_to(int fd);

  // A checkpoint's name: 1..kMaxNameBytes bytes, no control bytes.
  static Status validate(const Checkpoint& checkpoint);

  Result<ReadResult> read(const ReadRequest& request) const;
  // The chain digest at `position` (0: kChainStart); kNotFound past the head.
  Result<Chain> chain_at(Position position) const;
  // Recomputes every event's chain from its stored bytes, up to `up_to`
  // (0: the head), and checks the positions run 1..up_to without a gap:
  // kCorruption names the first position that does not hold; kNotFound
  // when `up_to` is past the head. Returns the chain at `up_to`. A hole's
  // chain is taken as stored (its event's bytes are gone): the event after
  // it is checked against it, so a change to it shows there.
  struct VerifyReport {
    Position head = 0;
    Chain chain{};
    std::uint64_t events = 0;
    std::uint64_t holes = 0;  // of them, removed events
  };
  Result<VerifyReport> verify(Position up_to = 0) const;
  // The stored position of a named subscription; nullopt when it has none.
  Result<std::optional<Position>> checkpoint(std::string_view name) const;
  // Every named subscription's checkpoint, by name.
  Result<std::vector<Checkpoint>> checkpoints() const;
  Result<std::vector<StreamInfo>> streams(std::string_view prefix, std::string_view after,
                                          std::size_t limit) const;
  Result<std::optional<StreamInfo>> stream_info(std::string_view name) const;
  // The rules (es/stream_rules.h) `stream` has now: those its metadata
  // stream's last committed event sets (empty when none).
  StreamRules rules(std::string_view stream) const;
  // Asks the applier to remove what rules by age hide now (tests; esd's
  // applier does it every second by itself), and waits until it has.
  Status sweep_expired();

  Position head() const { return head_.load(std::memory_order_acquire); }
  // The commit time of the event at the head (0: none).
  std::int64_t head_time_us() const { return last_time_us_.load(std::memory_order_acquire); }
  std::uint64_t stream_count() const { return stream_count_.load(std::memory_order_acquire); }
  std::uint64_t size_bytes() const;
  std::size_t map_size() const;
  const std::string& dir() const { return dir_; }
  // Clears reader slots left by dead processes; returns how many.
  int check_readers();
  // Blocks until the id filter's background build is over (tests).
  void wait_id_filter_built();
  std::uint64_t journal_size() const;

  // The rules of every stream that has some (store internals, store_rules.cc).
  struct RuleEntry;
  using RulesMap = std::map<std::string, std::shared_ptr<RuleEntry>, std::less<>>;

 private:
  struct Dbs;
  struct Group;
  struct PendingFrame;
  struct Applier;
  Store();
  Status open_env(const StoreOptions& options);
  Status load_state();
  Status open_journal(const StoreOptions& options);
  Status recover();
  void make_id_filters(const StoreOptions& options);
  Status start_id_filter();

  // Writing (store_write.cc): a group is checked against LMDB, the tail
  // and itself, encoded into one journal frame, made durable, added to the
  // tail and handed to the applier.
  Status begin_group(Group& g);
  struct Row;
  Result<Row*> row_of(Group& g, const std::string& stream);
  Result<std::optional<Position>> stored_id(Group& g, const Uuid& id);
  Result<RecordedEvent> stored_event(Group& g, Position p,
                                     const std::vector<RecordedEvent>& committed);
  void add_event(Group& g, RecordedEvent& rec);
  Status commit_group(Group& g, std::vector<RecordedEvent>* committed);
  Status wait_for_room(std::size_t payload);
  Status wait_applied_through(std::uint64_t seq);
  void absorb_applied();
  Status fail(Status s);
  Status check_room(std::size_t payload_bytes);
  Status sequence_group(std::span<const AppendRequest* const> requests,
                        std::vector<Result<AppendResult>>* results,
                        std::vector<RecordedEvent>* committed,
                        std::span<const Checkpoint> checkpoints,
                        std::vector<Result<Position>>* checkpoint_results);
  Status sequence_replicated(std::span<const RecordedEvent> events,
                             std::vector<RecordedEvent>* committed);
  Result<AppendResult> check_retry(Group& g, const AppendRequest& request,
                                   const std::vector<Position>& found,
                                   const std::vector<RecordedEvent>& committed);

  // Applying (store_apply.cc): frames into LMDB, by the applier thread and
  // by recovery.
  void apply_loop();
  std::size_t apply_bytes() const;
  Status apply_frames(std::span<const PendingFrame> frames, bool check_chains);
  Status try_apply_frames(std::span<const PendingFrame> frames, bool check_chains, bool* map_full);
  Status grow_map();

  // Deletion and retention (store_rules.cc).
  std::shared_ptr<const RulesMap> rules_snapshot() const;
  Status load_rules();
  // The writer: checks a group's events against the rules (a tombstone)
  // and notes the rules its metadata events set, in the group.
  Status check_rules(Group& g, const AppendRequest& request,
                     std::unordered_map<std::string, StreamRules>* sets);
  void publish_rules(Group& g);
  // The applier: removes what the rules hide from `streams` (all with
  // rules when null), in `txn`; `rows` holds the streams' rows as the
  // transaction leaves them and gets those it changes.
  struct RowCache;
  Status remove_hidden(store::Txn& txn, RowCache& rows, const std::vector<std::string>* streams,
                       std::uint64_t* removed, bool* map_full);
  Status sweep(std::uint64_t* removed);
  static const std::chrono::milliseconds kSweepEvery;
  bool sweep_due(std::chrono::steady_clock::time_point now) const;

  // Reading (store_read.cc). `page` is the read's page (store_read.cc).
  struct Snapshot;
  Status open_snapshot(Snapshot* s) const;
  Result<std::string> record_at(void* txn, Position p) const;
  Status read_stream(const ReadRequest& rq, void* page) const;
  Status read_all(const ReadRequest& rq, void* page) const;

  std::string dir_;
  int lock_fd_ = -1;
  MDB_env* env_ = nullptr;
  std::unique_ptr<Dbs> dbs_;
  // Readers share it; growing the map takes it exclusively, as LMDB requires
  // that no transaction be active in the process during mdb_env_set_mapsize.
  mutable std::shared_mutex resize_mu_;
  std::mutex append_mu_;           // one group at a time
  std::atomic<Position> head_{0};  // the last durable position (journal)
  std::atomic<std::uint64_t> stream_count_{0};
  std::atomic<std::int64_t> last_time_us_{0};  // commit time of the head
  Chain last_chain_{};                         // the chain at the head
  std::size_t map_size_ = 0;
  std::unique_ptr<store::Journal> journal_;
  std::uint64_t journal_resize_ = 0;  // a size to remake the journal at after recovery
  std::unique_ptr<store::Tail> tail_;
  std::string frame_;               // the group being encoded
  std::uint64_t frame_seq_ = 0;     // the last frame written
  std::uint64_t absorbed_seq_ = 0;  // the last applied frame the writer has trimmed
  std::size_t room_left_ = 0;       // disk bytes known free (check_room)
  std::int64_t room_checked_us_ = 0;
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<store::IdFilters> id_filters_;
  metrics::StoreMetrics* metrics_ = nullptr;
  // Rules by stream, replaced whole (copy on write) when a group sets some.
  mutable std::mutex rules_mu_;
  std::shared_ptr<const RulesMap> rules_;
};

}  // namespace es

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
// On-disk layout (schema version kFormatVersion), named LMDB databases:
//   "log"     position:u64be                 -> record (store/codec.h), with its chain
//                                               digest (es/digest.h)
//   "streams" name                           -> id:u64le last_version:u64le last_position:u64le
//   "index"   stream_id:u64be version:u64be  -> position:u64le
//   "ids"     event id (16 bytes)            -> position:u64le
//   "meta"    "format" -> u32le, "next_stream_id" -> u64le
// A store of format 1 (records without chains) is migrated when opened.
//   "checkpoints" subscription name      -> position:u64le
// No MDB_DUPSORT anywhere.
//
// Thread safety: reads are safe from any thread and never block appends.
// append_group() must be called from one thread at a time (the Writer);
// append() serializes itself. Only one Store may have a directory open: the
// directory's esd.lock is held exclusively (flock) for the Store's lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "es/event.h"
#include "es/result.h"

struct MDB_env;

namespace es {

enum class Durability : std::uint8_t {
  kSync,        // LMDB's full sync: acknowledged means durable (default)
  kNoMetaSync,  // opt-in: an OS crash may undo the last commit; never corrupts
};

struct StoreOptions {
  Durability durability = Durability::kSync;
  std::size_t initial_map_size = 64u << 20;
  unsigned max_readers = 256;
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
  // name holds afterwards.
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

  // A checkpoint's name: 1..kMaxNameBytes bytes, no control bytes.
  static Status validate(const Checkpoint& checkpoint);

  Result<ReadResult> read(const ReadRequest& request) const;
  // The chain digest at `position` (0: kChainStart); kNotFound past the head.
  Result<Chain> chain_at(Position position) const;
  // Recomputes every event's chain from its stored bytes, up to `up_to`
  // (0: the head), and checks the positions run 1..up_to without a gap:
  // kCorruption names the first position that does not hold; kNotFound
  // when `up_to` is past the head. Returns the chain at `up_to`.
  struct VerifyReport {
    Position head = 0;
    Chain chain{};
    std::uint64_t events = 0;
  };
  Result<VerifyReport> verify(Position up_to = 0) const;
  // The stored position of a named subscription; nullopt when it has none.
  Result<std::optional<Position>> checkpoint(std::string_view name) const;
  // Every named subscription's checkpoint, by name.
  Result<std::vector<Checkpoint>> checkpoints() const;
  Result<std::vector<StreamInfo>> streams(std::string_view prefix, std::string_view after,
                                          std::size_t limit) const;
  Result<std::optional<StreamInfo>> stream_info(std::string_view name) const;

  Position head() const { return head_.load(std::memory_order_acquire); }
  // The commit time of the event at the head (0: none).
  std::int64_t head_time_us() const { return last_time_us_.load(std::memory_order_acquire); }
  std::uint64_t stream_count() const { return stream_count_.load(std::memory_order_acquire); }
  std::uint64_t size_bytes() const;
  std::size_t map_size() const;
  const std::string& dir() const { return dir_; }
  // Clears reader slots left by dead processes; returns how many.
  int check_readers();

 private:
  struct Dbs;
  struct GroupState;
  Store() = default;
  Status open_env(const StoreOptions& options);
  Status load_state();
  Status grow_map();
  Status check_room(std::size_t payload_bytes) const;
  Status begin_group(GroupState& g);
  Status write_record(GroupState& g, RecordedEvent& rec, std::uint64_t stream_id);
  Status write_rows(GroupState& g);
  Status commit(GroupState& g);
  // Runs `apply` (one write transaction), growing the map and retrying
  // while it runs out; clears the outputs when it fails.
  template <class Apply, class Clear>
  Status with_room(std::size_t payload_bytes, Apply apply, Clear clear);
  Status apply_replicated(std::span<const RecordedEvent> events,
                          std::vector<RecordedEvent>* committed);
  Status apply_group(std::span<const AppendRequest* const> requests,
                     std::vector<Result<AppendResult>>* results,
                     std::vector<RecordedEvent>* committed, std::span<const Checkpoint> checkpoints,
                     std::vector<Result<Position>>* checkpoint_results);
  Result<std::string> record_at(void* txn, Position p) const;
  Result<AppendResult> check_retry(GroupState& g, const AppendRequest& request,
                                   const std::vector<Position>& found) const;
  Status read_stream(void* txn, const ReadRequest& rq, ReadResult* out) const;
  Status read_all(void* txn, const ReadRequest& rq, ReadResult* out) const;

  std::string dir_;
  int lock_fd_ = -1;
  MDB_env* env_ = nullptr;
  std::unique_ptr<Dbs> dbs_;
  // Readers share it; growing the map takes it exclusively, as LMDB requires
  // that no transaction be active in the process during mdb_env_set_mapsize.
  mutable std::shared_mutex resize_mu_;
  std::mutex append_mu_;
  std::atomic<Position> head_{0};
  std::atomic<std::uint64_t> stream_count_{0};
  std::uint64_t next_stream_id_ = 1;
  std::atomic<std::int64_t> last_time_us_{0};  // commit time of the head
  Chain last_chain_{};                         // the chain at the head
  std::size_t map_size_ = 0;
  bool map_full_ = false;  // set by apply_group when the map ran out
};

}  // namespace es

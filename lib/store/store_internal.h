// store/store_internal.h (private)
//
// What the parts of the Store (store_open.cc, store_write.cc,
// store_apply.cc, store_read.cc) share: the LMDB databases, their keys and
// values, and the state of a commit group and of the applier.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <lmdb.h>

#include "es/digest.h"
#include "es/store.h"

#include "store/id_filter.h"
#include "store/journal.h"
#include "store/lmdb.h"

namespace es {

struct Store::Dbs {
  MDB_dbi log = 0, streams = 0, index = 0, ids = 0, meta = 0, checkpoints = 0;
};

namespace store {

inline constexpr std::size_t kDiskReserve = 1u << 20;  // left free for LMDB's own pages
// Removals per LMDB transaction (stream rules): a deletion of a long stream
// goes on in the next one, so that the applier never holds LMDB for long.
inline constexpr std::uint64_t kMaxRemovals = 50'000;

// A row of "streams".
struct StreamRow {
  std::uint64_t id = 0;
  std::optional<Version> last;
  Position last_position = 0;
  Version first_indexed = 0;  // the versions before it were removed
};

inline std::string stream_row_value(const StreamRow& row) {
  std::string v(row.first_indexed == 0 ? 24 : 32, '\0');
  put_le64(v.data(), row.id);
  put_le64(v.data() + 8, *row.last);
  put_le64(v.data() + 16, row.last_position);
  if (row.first_indexed != 0) put_le64(v.data() + 24, row.first_indexed);
  return v;
}

inline Result<StreamRow> parse_stream_row(std::string_view v, std::string_view name) {
  if (v.size() != 24 && v.size() != 32)
    return Status::corruption("stream row of '" + std::string(name) + "' is malformed");
  StreamRow row;
  row.id = get_le64(v.data());
  row.last = get_le64(v.data() + 8);
  row.last_position = get_le64(v.data() + 16);
  if (v.size() == 32) row.first_indexed = get_le64(v.data() + 24);
  return row;
}

inline std::string pos_key(Position p) {
  std::string k(8, '\0');
  put_be64(k.data(), p);
  return k;
}

inline std::string index_key(std::uint64_t stream_id, Version v) {
  std::string k(16, '\0');
  put_be64(k.data(), stream_id);
  put_be64(k.data() + 8, v);
  return k;
}

inline std::string le64_value(std::uint64_t v) {
  std::string s(8, '\0');
  put_le64(s.data(), v);
  return s;
}

inline std::string_view id_key(const Uuid& id) {
  return {reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size()};
}

inline std::string journal_at_value(const JournalAt& at) {
  std::string s(16, '\0');
  put_le64(s.data(), at.lap);
  put_le64(s.data() + 8, at.offset);
  return s;
}

std::int64_t now_us_monotonic();

// Walks the "log" database `log` in `txn` from its first position with
// `verifier` (es/digest.h), up to `up_to` (0: its last): what `es verify`
// checks of LMDB, shared by Store::verify and the checks of a backup.
Status verify_log(const Txn& txn, MDB_dbi log, Position up_to, ChainVerifier* verifier);

}  // namespace store

// What a group's checks see of a stream: its last version and position,
// whoever holds them (this group, the tail or LMDB).
struct Store::Row {
  std::optional<Version> last;
  Position last_position = 0;
};

// One commit group being checked and encoded by the writer.
struct Store::Group {
  std::shared_lock<std::shared_mutex> tail;          // the tail, held while checking
  std::shared_lock<std::shared_mutex> resize;        // the map must not move under txn
  store::Txn txn;                                    // read-only, opened after the tail's trim
  std::shared_ptr<const store::IdFilter> id_filter;  // null: ids are looked up in LMDB
  Position head = 0;
  Chain chain{};
  std::int64_t time_us = 0;
  std::uint64_t new_streams = 0;
  std::unordered_map<std::string, Row> rows;           // as this group leaves them
  std::unordered_map<Uuid, Position, UuidHash> ids;    // ids this group writes
  std::vector<Checkpoint> checkpoints;                 // moves this group makes
  std::unordered_map<std::string, StreamRules> rules;  // rules this group sets
  std::shared_ptr<const RulesMap> rules_before;        // the store's, as the group began
  std::string scratch;
};

// The "streams" rows an LMDB write transaction has read or changed, by name.
struct Store::RowCache {
  std::unordered_map<std::string, store::StreamRow> rows;
};

// A stream's rules, and its last version as the writer last committed it
// (readers need it for max_count without a lookup). The map holding it is
// replaced when rules change; `last` moves in place.
struct Store::RuleEntry {
  StreamRules rules;
  std::atomic<std::uint64_t> last_plus_one{0};  // 0: no stream yet
  Version last() const {
    const std::uint64_t l = last_plus_one.load(std::memory_order_acquire);
    return l == 0 ? 0 : l - 1;
  }
  bool exists() const { return last_plus_one.load(std::memory_order_acquire) != 0; }
  bool shows(const RecordedEvent& e, std::int64_t now_us) const {
    return rules.shows(e, std::max(last(), e.version), now_us);
  }
};

// A durable frame on its way into LMDB.
struct Store::PendingFrame {
  std::uint64_t seq = 0;
  Position first = 0;
  std::uint32_t count = 0;
  std::string frame;  // header room + payload (Journal::begin's layout)
  store::JournalAt next;
  std::chrono::steady_clock::time_point written;
};

// The applier thread and what it shares with the writer.
struct Store::Applier {
  std::mutex mu;
  std::condition_variable wake;     // the applier: work, closing, room wanted
  std::condition_variable applied;  // the writer: a commit returned, or a failure
  std::deque<PendingFrame> pending;
  std::size_t pending_bytes = 0;
  std::size_t apply_bytes = 0;  // this much pending starts a commit at once
  bool closing = false;
  bool room_wanted = false;
  bool sweep_wanted = true;  // remove what rules hide, all streams (at open)
  std::uint64_t sweeps = 0;  // sweeps done
  std::chrono::steady_clock::time_point last_sweep{};
  Status stuck;    // kDiskFull while LMDB has no room to grow: retried
  Status failure;  // fatal: nothing more is applied or acknowledged
  std::atomic<bool> failed{false};
  std::atomic<std::uint64_t> applied_seq{0};
  std::uint64_t next_stream_id = 1;        // the applier's, in LMDB's "meta"
  std::vector<std::uint64_t> applied_ids;  // the last commit's, hashed for the id filter
  std::thread thread;
};

}  // namespace es

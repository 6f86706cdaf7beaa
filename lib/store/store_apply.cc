// The applier: brings LMDB up to date from durable journal frames, in large
// batches, each one LMDB transaction with LMDB's full sync; recovery applies
// replayed frames the same way.
#include <algorithm>
#include <chrono>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "es/digest.h"

#include "metrics/metrics.h"
#include "store/codec.h"
#include "store/store_internal.h"
#include "store/tail.h"

#include <sys/statvfs.h>

namespace es {

using store::get_le64;
using store::id_key;
using store::index_key;
using store::le64_value;
using store::lmdb_status;
using store::pos_key;
using store::StreamRow;
using store::Txn;

namespace {

// A frame waits this long for others to join its LMDB commit, unless the
// ring needs the room or a quarter of it (at most kApplyBytes) is waiting.
// Large commits matter: random (v4) ids put each event on a leaf page of
// their own in the "ids" index, and a commit of half a second's events
// shares those pages many times over (W3 ran 51,000 ev/s with 20 ms
// batches and 87,000 with 1 s ones, in one trial).
constexpr auto kApplyDelay = std::chrono::milliseconds(500);
constexpr std::size_t kApplyBytes = 32u << 20;
constexpr std::size_t kMaxApplyBytes = 64u << 20;  // per LMDB transaction
constexpr std::size_t kGrowStepMax = 1ull << 30;   // at most 1 GiB per growth
}  // namespace

// How often rules by age are applied (and the applier looks for work).
const std::chrono::milliseconds Store::kSweepEvery{1000};

namespace {}  // namespace

std::size_t Store::apply_bytes() const {
  return std::min<std::size_t>(kApplyBytes, journal_->size() / 4);
}

// Whether the applier should sweep now: asked to, or rules by age exist and
// the last sweep was a second ago.
bool Store::sweep_due(std::chrono::steady_clock::time_point now) const {
  if (applier_->sweep_wanted) return true;
  if (now - applier_->last_sweep < kSweepEvery) return false;
  auto map = rules_snapshot();
  if (!map) return false;
  return std::any_of(map->begin(), map->end(),
                     [](const auto& r) { return r.second->rules.max_age_s.has_value(); });
}

void Store::apply_loop() {
  Applier& a = *applier_;
  std::vector<PendingFrame> batch;
  std::unique_lock lock(a.mu);
  for (;;) {
    a.wake.wait_for(lock, kSweepEvery,
                    [&] { return !a.pending.empty() || a.closing || a.sweep_wanted; });
    if (a.stuck.ok() && !a.failed && sweep_due(std::chrono::steady_clock::now())) {
      a.sweep_wanted = false;
      lock.unlock();
      std::uint64_t removed = 0;
      Status s = sweep(&removed);
      lock.lock();
      if (removed >= store::kMaxRemovals) a.sweep_wanted = true;  // more to do
      a.last_sweep = std::chrono::steady_clock::now();
      ++a.sweeps;
      a.applied.notify_all();
      if (!s.ok() && s.code() != Code::kDiskFull) {
        spdlog::critical("store: removing what stream rules hide failed: {}", s.to_string());
        a.failure = s;
        a.failed.store(true, std::memory_order_release);
        return;
      }
      if (!s.ok()) spdlog::error("store: {}", s.message());
    }
    if (a.pending.empty()) {
      if (a.closing) return;  // everything is applied
      continue;
    }
    a.wake.wait_until(lock, a.pending.front().written + kApplyDelay, [&] {
      return a.closing || a.room_wanted || a.pending_bytes >= a.apply_bytes;
    });
    batch.clear();
    std::size_t bytes = 0;
    while (!a.pending.empty() &&
           (batch.empty() || bytes + a.pending.front().frame.size() <= kMaxApplyBytes)) {
      bytes += a.pending.front().frame.size();
      batch.push_back(std::move(a.pending.front()));
      a.pending.pop_front();
    }
    a.pending_bytes -= bytes;
    a.room_wanted = false;
    lock.unlock();
    const auto began = std::chrono::steady_clock::now();
    Status s = apply_frames(batch, false);
    if (metrics_ != nullptr && s.ok()) {
      metrics_->apply_seconds.observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
      metrics_->applied_frames.add(batch.size());
    }
    lock.lock();
    if (s.ok()) {
      const PendingFrame& last = batch.back();
      lock.unlock();
      id_filters_->applied(a.applied_ids);                 // before the tail lets go of them
      tail_->trim(last.first + last.count - 1, last.seq);  // LMDB holds them now
      lock.lock();
      a.applied_seq.store(last.seq, std::memory_order_release);
      if (!a.stuck.ok()) spdlog::info("store: LMDB is up to date again");
      a.stuck = Status();
      a.applied.notify_all();
      continue;
    }
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) a.pending.push_front(std::move(*it));
    a.pending_bytes += bytes;
    if (s.code() == Code::kDiskFull) {
      // Nothing was written: the frames stay in the journal and the tail,
      // and appends wait (or are refused as disk full) until there is room.
      if (a.stuck.ok()) spdlog::error("store: LMDB cannot grow, retrying: {}", s.message());
      a.stuck = s;
      a.applied.notify_all();
      if (a.wake.wait_for(lock, std::chrono::seconds(1), [&] { return a.closing; })) return;
      continue;
    }
    spdlog::critical("store: bringing LMDB up to date failed: {}", s.to_string());
    a.failure = s;
    a.failed.store(true, std::memory_order_release);
    a.applied.notify_all();
    return;
  }
}

Status Store::apply_frames(std::span<const PendingFrame> frames, bool check_chains) {
  for (;;) {
    bool map_full = false;
    Status s = try_apply_frames(frames, check_chains, &map_full);
    if (s.ok()) return s;
    // A write or flush that failed (ENOSPC included) leaves LMDB's pages in
    // doubt: fatal. Only a map that cannot grow (kDiskFull from grow_map,
    // nothing written) is worth trying again later.
    if (!map_full) return s.code() == Code::kDiskFull ? Status::io_error(s.message()) : s;
    ES_RETURN_IF_ERROR(grow_map());
  }
}

// One LMDB write transaction for `frames`, which follow LMDB's head. With
// `check_chains` (recovery), every event's chain is recomputed first.
Status Store::try_apply_frames(std::span<const PendingFrame> frames, bool check_chains,
                               bool* map_full) {
  auto begun = Txn::begin(env_, 0);
  if (!begun.ok()) return begun.status();
  Txn txn = std::move(begun).value();
  RowCache cache;
  auto& rows = cache.rows;
  std::vector<std::string> ruled;  // streams with rules this batch touched
  auto rules = rules_snapshot();
  std::uint64_t next_stream_id = applier_->next_stream_id;
  // (last_chain_ belongs to the writer once the store is open: only
  // recovery, before it, checks chains here.)
  Chain chain = check_chains ? last_chain_ : Chain{};
  auto status = [map_full](int rc, const char* what) {
    if (rc == MDB_MAP_FULL) *map_full = true;
    return lmdb_status(rc, what);
  };
  auto put = [&](MDB_dbi dbi, std::string_view k, std::string_view v, unsigned flags,
                 const char* what) { return status(txn.put(dbi, k, v, flags), what); };
  auto damaged = [](Position p, const std::string& what) {
    return Status::corruption("journal frame at position " + std::to_string(p) + ": " + what);
  };
  store::RecordKeys k;
  applier_->applied_ids.clear();
  for (const PendingFrame& f : frames) {
    Position p = f.first;
    std::string_view payload = std::string_view(f.frame).substr(store::Journal::kHeaderBytes);
    while (!payload.empty()) {
      std::uint32_t n = 0;
      if (payload.size() < 5) return damaged(p, "an entry is truncated");
      std::memcpy(&n, payload.data() + 1, 4);
      if (payload.size() - 5 < n) return damaged(p, "an entry is truncated");
      const auto kind = static_cast<std::uint8_t>(payload[0]);
      const std::string_view body = payload.substr(5, n);
      payload.remove_prefix(5 + std::size_t{n});
      if (kind == store::Journal::kCheckpoint) {
        if (body.size() < 9) return damaged(p, "a checkpoint entry is malformed");
        ES_RETURN_IF_ERROR(put(dbs_->checkpoints, body.substr(8), le64_value(get_le64(body.data())),
                               0, "mdb_put checkpoints"));
        continue;
      }
      if (kind == store::Journal::kCheckpointRemoved) {
        const int rc = txn.del(dbs_->checkpoints, body);
        if (rc != MDB_NOTFOUND) ES_RETURN_IF_ERROR(status(rc, "mdb_del checkpoints"));
        continue;
      }
      if (kind != store::Journal::kEvent) return damaged(p, "unknown entry kind");
      ES_RETURN_IF_ERROR(store::decode_keys(body, &k));
      if (check_chains) {
        // A hole's chain is taken as it is (its event's bytes are gone).
        const Chain computed = k.removed ? k.chain : chain_next(chain, p, k.body);
        if (computed != k.chain) return damaged(p, "the event does not match its chain digest");
        chain = computed;
      }
      auto it = rows.find(std::string(k.stream));
      if (it == rows.end()) {
        StreamRow row;
        std::string_view v;
        int rc = txn.get(dbs_->streams, k.stream, &v);
        if (rc == 0) {
          auto parsed = store::parse_stream_row(v, k.stream);
          if (!parsed.ok()) return parsed.status();
          row = *parsed;
        } else if (rc != MDB_NOTFOUND) {
          return lmdb_status(rc, "mdb_get streams");
        }
        it = rows.emplace(std::string(k.stream), row).first;
        if (rules && rules->count(k.stream) != 0) ruled.push_back(it->first);
      }
      if (is_metadata_stream(k.stream)) ruled.emplace_back(target_of(k.stream));
      StreamRow& row = it->second;
      if (row.id == 0) row.id = next_stream_id++;
      if (k.version != (row.last ? *row.last + 1 : 0)) {
        return damaged(p, "version " + std::to_string(k.version) + " of " + std::string(k.stream) +
                              " does not follow the stored one");
      }
      const std::string pv = le64_value(p);
      ES_RETURN_IF_ERROR(put(dbs_->log, pos_key(p), body, MDB_APPEND, "mdb_put log"));
      row.last = k.version;
      row.last_position = p;
      ++p;
      if (k.removed) {  // a hole copied from a primary: nothing to index
        if (row.first_indexed == k.version) row.first_indexed = k.version + 1;
        continue;
      }
      ES_RETURN_IF_ERROR(put(dbs_->index, index_key(row.id, k.version), pv, 0, "mdb_put index"));
      int rc = txn.put(dbs_->ids, id_key(k.id), pv, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST)
        return damaged(p - 1, "event id " + k.id.to_string() + " is stored already");
      ES_RETURN_IF_ERROR(status(rc, "mdb_put ids"));
      applier_->applied_ids.push_back(id_filters_->hash(k.id));
    }
    if (p != f.first + f.count) return damaged(f.first, "it holds another number of events");
  }
  // What the rules of the streams it touched hide now goes in the same
  // transaction (recovery leaves it to the first sweep).
  if (!check_chains && !ruled.empty()) {
    std::sort(ruled.begin(), ruled.end());
    ruled.erase(std::unique(ruled.begin(), ruled.end()), ruled.end());
    std::uint64_t removed = 0;
    ES_RETURN_IF_ERROR(remove_hidden(txn, cache, &ruled, &removed, map_full));
    if (removed > 0) spdlog::debug("store: removed {} events that stream rules hide", removed);
    if (removed >= store::kMaxRemovals) {
      std::lock_guard lock(applier_->mu);
      applier_->sweep_wanted = true;  // the rest in the next transaction
    }
  }
  for (const auto& [name, row] : rows) {
    ES_RETURN_IF_ERROR(
        put(dbs_->streams, name, store::stream_row_value(row), 0, "mdb_put streams"));
  }
  if (next_stream_id != applier_->next_stream_id) {
    ES_RETURN_IF_ERROR(
        put(dbs_->meta, "next_stream_id", le64_value(next_stream_id), 0, "mdb_put meta"));
  }
  ES_RETURN_IF_ERROR(
      put(dbs_->meta, "journal", store::journal_at_value(frames.back().next), 0, "mdb_put meta"));
  ES_RETURN_IF_ERROR(status(txn.commit_rc(), "mdb_txn_commit"));
  applier_->next_stream_id = next_stream_id;
  return {};
}

Status Store::grow_map() {
  std::unique_lock lock(resize_mu_);
  std::size_t step = std::min(std::max<std::size_t>(map_size_, 64u << 20), kGrowStepMax);
  std::size_t want = map_size_ + step;
  struct statvfs vfs {};
  if (::statvfs(dir_.c_str(), &vfs) == 0) {
    std::size_t room = size_bytes() + static_cast<std::size_t>(vfs.f_bavail) * vfs.f_frsize;
    if (want > room) want = room & ~std::size_t{0xffff};
    if (want <= map_size_) {
      return Status(Code::kDiskFull, "disk full: the store needs more room than the " +
                                         std::to_string(vfs.f_bavail * vfs.f_frsize) +
                                         " bytes left on the disk of " + dir_);
    }
  }
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_set_mapsize(env_, want), "mdb_env_set_mapsize"));
  spdlog::info("store: map grown from {} MiB to {} MiB", map_size_ >> 20, want >> 20);
  map_size_ = want;
  return {};
}

}  // namespace es

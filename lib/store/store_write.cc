// The write path: a commit group is checked (ids, expectations, checkpoint
// moves) against LMDB, the tail and itself, encoded into one journal frame,
// made durable with one write and one flush, added to the tail (readers see
// it from then on) and handed to the applier. Only then is it acknowledged.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "es/digest.h"
#include "es/json.h"

#include "metrics/metrics.h"
#include "store/codec.h"
#include "store/store_internal.h"
#include "store/tail.h"

#include <sys/statvfs.h>

namespace es {

using store::get_le64;
using store::id_key;
using store::lmdb_status;
using store::Txn;

namespace {

// check_room asks the file system again after this long.
constexpr std::int64_t kRoomRecheckUs = 20'000;

StreamWritten& written_for(AppendResult& r, const std::string& stream) {
  for (auto& w : r.streams) {
    if (w.stream == stream) return w;
  }
  r.streams.push_back(StreamWritten{stream, 0, 0, 0, 0, 0});
  return r.streams.back();
}

void note_written(StreamWritten& w, Version v, Position p) {
  if (w.count == 0) {
    w.first_version = v;
    w.first_position = p;
  }
  ++w.count;
  w.last_version = v;
  w.last_position = p;
}

std::string describe_version(std::optional<Version> v) {
  return v ? "version " + std::to_string(*v) : "no stream";
}

}  // namespace

Status Store::append_group(std::span<const AppendRequest* const> requests,
                           std::vector<Result<AppendResult>>* results,
                           std::vector<RecordedEvent>* committed,
                           std::span<const Checkpoint> checkpoints,
                           std::vector<Result<Position>>* checkpoint_results) {
  std::vector<Result<Position>> ignored;
  if (checkpoint_results == nullptr) checkpoint_results = &ignored;
  std::lock_guard lock(append_mu_);
  Status s = sequence_group(requests, results, committed, checkpoints, checkpoint_results);
  if (!s.ok()) {
    results->clear();
    committed->clear();
    checkpoint_results->clear();
  }
  return s;
}

Status Store::replicate(std::span<const RecordedEvent> events,
                        std::vector<RecordedEvent>* committed) {
  std::lock_guard lock(append_mu_);
  Status s = sequence_replicated(events, committed);
  if (!s.ok()) committed->clear();
  return s;
}

Result<AppendResult> Store::append(const AppendRequest& request) {
  const AppendRequest* one[] = {&request};
  std::vector<Result<AppendResult>> results;
  std::vector<RecordedEvent> committed;
  ES_RETURN_IF_ERROR(append_group(one, &results, &committed));
  return std::move(results.front());
}

// Frees the journal's space up to what the applier has committed to LMDB.
void Store::absorb_applied() {
  const std::uint64_t seq = applier_->applied_seq.load(std::memory_order_acquire);
  if (seq == absorbed_seq_) return;
  journal_->release(seq);
  absorbed_seq_ = seq;
  if (metrics_ != nullptr)
    metrics_->journal_unapplied_bytes.set(static_cast<double>(journal_->unapplied_bytes()));
}

// Opens the group's LMDB snapshot under the tail's read lock, as a reader
// does, so that together they hold every durable event while it is checked.
Status Store::begin_group(Group& g) {
  ES_RETURN_IF_ERROR(failure());
  absorb_applied();
  g.tail = tail_->read_lock();
  g.resize = std::shared_lock(resize_mu_);
  auto begun = Txn::begin(env_, MDB_RDONLY);
  if (!begun.ok()) return begun.status();
  g.txn = std::move(begun).value();
  g.id_filter = id_filters_->ready();
  g.rules_before = rules_snapshot();
  g.head = head_.load();
  g.chain = last_chain_;
  g.time_us = last_time_us_.load();
  store::Journal::begin(&frame_);
  return {};
}

Result<Store::Row*> Store::row_of(Group& g, const std::string& stream) {
  auto it = g.rows.find(stream);
  if (it != g.rows.end()) return &it->second;
  Row row;
  if (const store::Tail::Stream* t = tail_->stream(stream)) {
    row.last = t->last_version();
    row.last_position = t->positions.back();
  } else {
    std::string_view v;
    int rc = g.txn.get(dbs_->streams, stream, &v);
    if (rc == 0) {
      auto parsed = store::parse_stream_row(v, stream);
      if (!parsed.ok()) return parsed.status();
      row.last = parsed->last;
      row.last_position = parsed->last_position;
    } else if (rc != MDB_NOTFOUND) {
      return lmdb_status(rc, "mdb_get streams");
    }
  }
  return &g.rows.emplace(stream, row).first->second;
}

Result<std::optional<Position>> Store::stored_id(Group& g, const Uuid& id) {
  if (auto it = g.ids.find(id); it != g.ids.end()) return std::optional<Position>(it->second);
  if (auto p = tail_->id(id)) return p;
  // Not in the tail: in LMDB if anywhere, and the filter holds all of LMDB's.
  if (g.id_filter && !g.id_filter->may_contain(id_filters_->hash(id)))
    return std::optional<Position>();
  std::string_view v;
  int rc = g.txn.get(dbs_->ids, id_key(id), &v);
  if (rc == MDB_NOTFOUND) return std::optional<Position>();
  if (rc != 0) return lmdb_status(rc, "mdb_get ids");
  if (v.size() != 8) return Status::corruption("id " + id.to_string() + " has a malformed entry");
  return std::optional<Position>(get_le64(v.data()));
}

Result<RecordedEvent> Store::stored_event(Group& g, Position p,
                                          const std::vector<RecordedEvent>& committed) {
  const Position group_first = head_.load() + 1;
  if (p >= group_first) return committed.at(p - group_first);
  if (const RecordedEvent* t = tail_->at(p)) return *t;
  auto raw = record_at(g.txn.get(), p);
  if (!raw.ok()) return raw.status();
  RecordedEvent e;
  ES_RETURN_IF_ERROR(store::decode_record(*raw, &e));
  e.position = p;
  return e;
}

// Encodes `rec` (position, version and time set) into the group's frame and
// sets its chain.
// sets its chain (a hole, copied from a primary, keeps the chain it has).
void Store::add_event(Group& g, RecordedEvent& rec) {
  store::encode_record(rec, &g.scratch);
  if (!rec.removed) rec.chain = chain_next(g.chain, rec.position, g.scratch);
  g.scratch.append(reinterpret_cast<const char*>(rec.chain.data()), rec.chain.size());
  store::Journal::add_event(&frame_, g.scratch);
  g.chain = rec.chain;
  if (!rec.removed) g.ids[rec.id] = rec.position;
  Row& row = g.rows[rec.stream];
  if (!row.last) ++g.new_streams;
  row.last = rec.version;
  row.last_position = rec.position;
}

Status Store::sequence_group(std::span<const AppendRequest* const> requests,
                             std::vector<Result<AppendResult>>* results,
                             std::vector<RecordedEvent>* committed,
                             std::span<const Checkpoint> checkpoints,
                             std::vector<Result<Position>>* checkpoint_results) {
  results->clear();
  committed->clear();
  checkpoint_results->clear();
  Group g;
  ES_RETURN_IF_ERROR(begin_group(g));
  g.time_us = std::max(now_us(), g.time_us);
  const std::size_t max_bytes = max_group_bytes();

  for (const AppendRequest* req : requests) {
    // 0. Shape and limits: a malformed request fails alone, never the group.
    if (Status v = validate(*req); !v.ok()) {
      results->push_back(v);
      continue;
    }
    if (const std::size_t bytes = frame_bytes(*req); bytes > max_bytes) {
      results->push_back(Status::invalid(
          "an append of about " + std::to_string(bytes) + " bytes does not fit the journal of " +
          std::to_string(journal_->size()) + " bytes, which takes " + std::to_string(max_bytes) +
          " per append (esd --journal-size)"));
      continue;
    }
    // 1. Idempotency: are these ids stored already?
    std::vector<Position> found;
    for (const auto& e : req->events) {
      auto p = stored_id(g, e.id);
      if (!p.ok()) return p.status();
      if (p->has_value()) found.push_back(**p);
    }
    if (!found.empty()) {
      results->push_back(check_retry(g, *req, found, *committed));
      continue;
    }
    // 2. Expectations, against what this group has written so far.
    Status conflict;
    for (const auto& x : req->expectations) {
      auto row = row_of(g, x.stream);
      if (!row.ok()) return row.status();
      if (!x.expected.admits((*row)->last)) {
        conflict =
            Status::wrong_expected_version("stream " + x.stream + ": expected " +
                                               (x.expected.kind() == ExpectedVersion::Kind::kExact
                                                    ? "version " + x.expected.to_string()
                                                    : x.expected.to_string()) +
                                               ", but it is at " + describe_version((*row)->last),
                                           (*row)->last);
        break;
      }
    }
    // 3. Deletion: nothing goes to a tombstoned stream.
    std::unordered_map<std::string, StreamRules> rules_set;
    if (conflict.ok()) conflict = check_rules(g, *req, &rules_set);
    if (!conflict.ok()) {
      results->push_back(conflict);
      continue;
    }
    for (auto& [stream, rules] : rules_set) g.rules[stream] = rules;
    // 4. Write into the frame.
    AppendResult result;
    for (const auto& e : req->events) {
      auto row = row_of(g, e.stream);
      if (!row.ok()) return row.status();
      RecordedEvent rec;
      rec.position = ++g.head;
      rec.stream = e.stream;
      rec.version = (*row)->last ? *(*row)->last + 1 : 0;
      rec.id = e.id;
      rec.type = e.type;
      rec.time_us = g.time_us;
      rec.data = e.data;
      rec.metadata = e.metadata;
      add_event(g, rec);
      note_written(written_for(result, e.stream), rec.version, rec.position);
      committed->push_back(std::move(rec));
    }
    results->push_back(std::move(result));
  }

  for (const Checkpoint& c : checkpoints) {
    if (Status v = validate(c); !v.ok()) {
      checkpoint_results->push_back(v);
      continue;
    }
    if (c.position > g.head && !c.remove) {
      checkpoint_results->push_back(
          Status::invalid("checkpoint " + c.name + ": position " + std::to_string(c.position) +
                          " is beyond the head " + std::to_string(g.head)));
      continue;
    }
    // What it holds: as this group left it, else the tail, else LMDB.
    std::optional<Position> stored;
    bool known = false;
    for (const Checkpoint& moved : g.checkpoints) {
      if (moved.name != c.name) continue;
      stored = moved.remove ? std::nullopt : std::optional<Position>(moved.position);
      known = true;
    }
    if (const auto* in_tail = known ? nullptr : tail_->checkpoint(c.name)) {
      stored = in_tail->position;
      known = true;
    }
    if (!known) {
      std::string_view v;
      int rc = g.txn.get(dbs_->checkpoints, c.name, &v);
      if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_get checkpoints");
      if (rc == 0 && v.size() == 8) stored = get_le64(v.data());
    }
    if (c.remove) {
      if (!stored) {
        checkpoint_results->push_back(Status::not_found("no checkpoint named " + c.name));
        continue;
      }
      store::Journal::add_checkpoint_removal(&frame_, c.name);
      g.checkpoints.push_back(c);
      checkpoint_results->push_back(*stored);  // the position it had
      continue;
    }
    if (stored && *stored >= c.position) {
      checkpoint_results->push_back(*stored);  // forward only
      continue;
    }
    store::Journal::add_checkpoint(&frame_, c.name, c.position);
    g.checkpoints.push_back(c);
    checkpoint_results->push_back(c.position);
  }
  if (committed->empty() && g.checkpoints.empty()) return {};  // nothing to write
  return commit_group(g, committed);
}

Status Store::sequence_replicated(std::span<const RecordedEvent> events,
                                  std::vector<RecordedEvent>* committed) {
  committed->clear();
  Group g;
  ES_RETURN_IF_ERROR(begin_group(g));
  for (const RecordedEvent& e : events) {
    auto at = [&e] { return "position " + std::to_string(e.position); };
    if (e.position != g.head + 1) {
      return Status(Code::kDiverged, "the primary sent " + at() + " where this store expects " +
                                         std::to_string(g.head + 1));
    }
    // Names stored before today's rules replicate as they are.
    ES_RETURN_IF_ERROR(validate_stored_name("stream name", e.stream));
    if (!e.removed) ES_RETURN_IF_ERROR(validate_stored_name("event type", e.type));
    auto row = row_of(g, e.stream);
    if (!row.ok()) return row.status();
    const Version expected = (*row)->last ? *(*row)->last + 1 : 0;
    if (e.version != expected) {
      return Status(Code::kDiverged, at() + " holds version " + std::to_string(e.version) + " of " +
                                         e.stream + " on the primary; here that stream's next is " +
                                         std::to_string(expected));
    }
    auto stored = e.removed ? Result<std::optional<Position>>(std::nullopt) : stored_id(g, e.id);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) {
      return Status(Code::kDiverged, "event id " + e.id.to_string() + " at " + at() +
                                         " is stored already at position " +
                                         std::to_string(**stored));
    }
    if (is_metadata_stream(e.stream) && !e.removed) {
      auto rules = rules_of(e);
      if (!rules.ok()) return Status(Code::kDiverged, at() + ": " + rules.status().message());
      g.rules[std::string(target_of(e.stream))] = *rules;
      auto target = row_of(g, std::string(target_of(e.stream)));
      if (!target.ok()) return target.status();
    }
    RecordedEvent rec = e;
    ++g.head;
    add_event(g, rec);
    if (rec.chain != e.chain) {
      return Status(Code::kDiverged, at() + ": the primary's chain digest is " + to_hex(e.chain) +
                                         ", this store's is " + to_hex(rec.chain) +
                                         ": the two logs differ at or before it");
    }
    g.time_us = std::max(g.time_us, rec.time_us);
    committed->push_back(std::move(rec));
  }
  if (committed->empty()) return {};
  return commit_group(g, committed);
}

// Makes the group durable: one frame, one write, one flush. Then readers
// see it (the tail), the applier gets it, and it may be acknowledged.
Status Store::commit_group(Group& g, std::vector<RecordedEvent>* committed) {
  g.txn.abort();  // the checks are done; waiting for room must not pin a snapshot
  g.resize.unlock();
  g.tail.unlock();  // append() below takes it exclusively
  const std::size_t payload = store::Journal::payload_bytes(frame_);
  if (payload > journal_->max_payload()) {
    return Status::invalid("a group of " + std::to_string(payload) +
                           " bytes does not fit the journal of " +
                           std::to_string(journal_->size()) + " bytes (esd --journal-size)");
  }
  ES_RETURN_IF_ERROR(check_room(payload));
  ES_RETURN_IF_ERROR(wait_for_room(payload));
  const Position first = head_.load() + 1;
  const auto count = static_cast<std::uint32_t>(committed->size());
  const std::uint64_t seq = frame_seq_ + 1;
  const auto write_began = std::chrono::steady_clock::now();
  auto next = journal_->write(&frame_, first, count, seq);
  if (!next.ok()) return fail(next.status());
  if (metrics_ != nullptr) {
    metrics_->journal_write_seconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - write_began).count());
    metrics_->journal_written_bytes.add(store::Journal::frame_bytes(payload));
    metrics_->journal_unapplied_bytes.set(static_cast<double>(journal_->unapplied_bytes()));
  }
  frame_seq_ = seq;
  publish_rules(g);
  spdlog::trace("journal frame {}: {} events from position {}, {} checkpoint entries, {} bytes",
                seq, count, first, g.checkpoints.size(), payload);
  tail_->append(*committed, g.checkpoints, seq);
  last_chain_ = g.chain;
  last_time_us_.store(g.time_us, std::memory_order_release);
  stream_count_.fetch_add(g.new_streams, std::memory_order_release);
  head_.store(g.head, std::memory_order_release);
  PendingFrame pending{
      seq, first, count, std::move(frame_), *next, std::chrono::steady_clock::now()};
  frame_ = std::string();
  // The applier is woken only when this frame starts its wait or fills a
  // batch: a wake-up per group would cost the request path a context switch.
  bool wake = false;
  {
    std::lock_guard lock(applier_->mu);
    wake = applier_->pending.empty() ||
           applier_->pending_bytes + pending.frame.size() >= applier_->apply_bytes;
    applier_->pending_bytes += pending.frame.size();
    applier_->pending.push_back(std::move(pending));
  }
  if (wake) applier_->wake.notify_one();
  return {};
}

// Waits until the ring has room for a frame of `payload` bytes: the
// applier frees it by bringing LMDB up to date (backpressure, never a drop).
Status Store::wait_for_room(std::size_t payload) {
  Applier& a = *applier_;
  for (;;) {
    absorb_applied();
    if (journal_->has_room(payload)) return {};
    std::unique_lock lock(a.mu);
    if (a.failed) return a.failure;
    if (!a.stuck.ok()) return a.stuck;
    a.room_wanted = true;
    a.wake.notify_one();
    a.applied.wait_for(lock, std::chrono::milliseconds(100));
  }
}

Status Store::wait_applied() {
  std::lock_guard writer(append_mu_);
  return wait_applied_through(frame_seq_);
}

// Asks the applier not to wait for a batch to gather, until the frames up
// to `seq` are in LMDB.
Status Store::wait_applied_through(std::uint64_t seq) {
  Applier& a = *applier_;
  std::unique_lock lock(a.mu);
  while (a.applied_seq.load() < seq) {
    if (a.failed) return a.failure;
    if (!a.stuck.ok()) return a.stuck;
    a.room_wanted = true;
    a.wake.notify_one();
    a.applied.wait_for(lock, std::chrono::milliseconds(100));
  }
  return {};
}

Status Store::copy_to(int fd) {
  std::uint64_t seq = 0;
  {
    std::lock_guard writer(append_mu_);  // only to read frame_seq_: appends wait no longer
    seq = frame_seq_;
  }
  ES_RETURN_IF_ERROR(wait_applied_through(seq));
  std::shared_lock resize(resize_mu_);
  return lmdb_status(mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT), "mdb_env_copyfd2");
}

// A storage error: the store is failed for good (see store.h).
Status Store::fail(Status s) {
  std::lock_guard lock(applier_->mu);
  if (!applier_->failed) {
    spdlog::critical("store: {}; nothing after it is acknowledged", s.to_string());
    applier_->failure = s;
    applier_->failed.store(true, std::memory_order_release);
  }
  applier_->applied.notify_all();
  return s;
}

// Refuses a group the disk has no room for, before anything is written:
// what the journal holds must always fit into LMDB afterwards, so room is
// reserved for it and for this group, and kDiskReserve stays free.
Status Store::check_room(std::size_t payload) {
  const std::size_t unapplied = journal_->unapplied_bytes();
  const std::size_t need = store::kDiskReserve + 4 * (payload + unapplied);
  const std::int64_t now = store::now_us_monotonic();
  if (now - room_checked_us_ > kRoomRecheckUs || room_left_ < need) {
    struct statvfs vfs {};
    if (::statvfs(dir_.c_str(), &vfs) != 0) return {};
    room_left_ = static_cast<std::size_t>(vfs.f_bavail) * vfs.f_frsize;
    room_checked_us_ = now;
  }
  if (room_left_ >= need) {
    room_left_ -= 4 * payload;
    return {};
  }
  return Status(Code::kDiskFull,
                "disk full: " + std::to_string(room_left_) + " bytes left on the disk of " + dir_ +
                    ", this append needs about " + std::to_string(need) + " (with a reserve of " +
                    std::to_string(store::kDiskReserve) + ")");
}

Result<AppendResult> Store::check_retry(Group& g, const AppendRequest& request,
                                        const std::vector<Position>& found,
                                        const std::vector<RecordedEvent>& committed) {
  const auto& events = request.events;
  if (found.size() != events.size()) {
    return Status(Code::kDuplicateId,
                  "some event ids of this append are stored already and others are not: "
                  "a retry must resend the same events");
  }
  AppendResult result;
  result.already_stored = true;
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto got = stored_event(g, found[i], committed);
    if (!got.ok()) return got.status();
    const RecordedEvent& stored = *got;
    const auto& e = events[i];
    std::string where = " is already stored in " + stored.stream + " at version " +
                        std::to_string(stored.version) + " (position " + std::to_string(found[i]) +
                        ")";
    if (stored.type != e.type || stored.data != e.data || stored.metadata != e.metadata) {
      return Status(Code::kDuplicateId,
                    "event id " + e.id.to_string() + where + " with other content");
    }
    if (stored.stream != e.stream || found[i] != found[0] + i) {
      return Status(Code::kDuplicateId, "event id " + e.id.to_string() + where + ", another place");
    }
    StreamWritten& w = written_for(result, stored.stream);
    if (w.count == 0) {
      for (const auto& x : request.expectations) {
        if (x.stream != stored.stream) continue;
        bool same_place = true;
        switch (x.expected.kind()) {
          case ExpectedVersion::Kind::kAny:
            break;
          case ExpectedVersion::Kind::kNoStream:
            same_place = stored.version == 0;
            break;
          case ExpectedVersion::Kind::kExists:
            same_place = stored.version > 0;
            break;
          case ExpectedVersion::Kind::kExact:
            same_place = stored.version == x.expected.version() + 1;
            break;
        }
        if (!same_place) {
          return Status(Code::kDuplicateId, "event id " + e.id.to_string() + where +
                                                ", not where expected version " +
                                                x.expected.to_string() + " puts it");
        }
      }
    }
    note_written(w, stored.version, found[i]);
  }
  return result;
}

}  // namespace es

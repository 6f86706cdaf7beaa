// The read path: LMDB snapshots plus the tail (store/tail.h). A snapshot is
// opened under the tail's read lock, so that the two together hold every
// durable event; the tail's part is copied under the lock (bounded by a
// page), LMDB's part read without it.
#include <algorithm>

#include "es/digest.h"
#include "es/event_filter.h"
#include "es/json.h"

#include "store/codec.h"
#include "store/store_internal.h"
#include "store/tail.h"

namespace es {

using store::Cursor;
using store::get_be64;
using store::get_le64;
using store::index_key;
using store::lmdb_status;
using store::pos_key;
using store::to_val;
using store::to_view;
using store::Txn;

namespace {

constexpr std::size_t kScanLimit = 200'000;  // records examined per read call

// The page a read fills, within its limits.
struct Page {
  const ReadRequest& rq;
  ReadResult* out;
  std::size_t limit;
  std::shared_ptr<const Store::RulesMap> rules;  // null: none apply
  std::int64_t now_us = 0;
  std::size_t scanned = 0, bytes = 0;
  bool full() const {
    return out->events.size() >= limit || scanned >= kScanLimit || bytes >= kMaxReplyBytes;
  }
  // What deletion and retention hide: holes, and events the rules hide
  // but the applier has not removed yet.
  bool hides(const RecordedEvent& e) const {
    if (e.removed) return true;
    if (!rules) return false;
    auto it = rules->find(e.stream);
    return it != rules->end() && !it->second->shows(e, now_us);
  }
  void offer(RecordedEvent e) {
    ++scanned;
    if (hides(e)) {
      if (!rq.raw) return;
      // A raw read shows it as the hole it is about to be: a replica
      // never gets what the rules hide.
      e.removed = true;
      e.id = Uuid{};
      e.type.clear();
      e.data.clear();
      e.metadata.clear();
    } else if (!rq.matches(e)) {
      return;
    }
    bytes += e.data.size() + e.metadata.size() + 128;
    out->events.push_back(std::move(e));
  }
};

std::size_t page_limit(std::uint32_t limit) {
  return limit == 0 ? kMaxReadLimit : std::min<std::size_t>(limit, kMaxReadLimit);
}

}  // namespace

// An LMDB snapshot, with the map held still while it is open.
struct Store::Snapshot {
  std::shared_lock<std::shared_mutex> resize;
  Txn txn;
  Position head = 0;  // LMDB's last position in it
};

// Opens a snapshot; the caller holds the tail's read lock.
Status Store::open_snapshot(Snapshot* s) const {
  s->txn.abort();
  if (!s->resize.owns_lock()) s->resize = std::shared_lock(resize_mu_);
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  s->txn = std::move(txn).value();
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(s->txn, dbs_->log));
  MDB_val k{}, v{};
  int rc = cur.get(&k, &v, MDB_LAST);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get log");
  s->head = rc == 0 ? get_be64(static_cast<const char*>(k.mv_data)) : 0;
  return {};
}

bool ReadRequest::matches(const RecordedEvent& e) const {
  return EventFilter{{}, EventFilter::one(category), types}.matches(e);
}

Result<ReadResult> Store::read(const ReadRequest& rq) const {
  if (!rq.stream.empty()) ES_RETURN_IF_ERROR(validate_lookup_name("stream name", rq.stream));
  if (!rq.category.empty()) ES_RETURN_IF_ERROR(validate_lookup_name("category", rq.category));
  constexpr std::size_t kMaxTypes = 1000;
  if (rq.types.size() > kMaxTypes)
    return Status::invalid("a read filters on at most " + std::to_string(kMaxTypes) + " types");
  for (const auto& t : rq.types) ES_RETURN_IF_ERROR(validate_lookup_name("event type", t));
  if (rq.raw && (!rq.stream.empty() || !rq.category.empty() || !rq.types.empty()))
    return Status::invalid("a raw read reads the whole log, without filters");
  ReadResult out;
  Page page{rq, &out, page_limit(rq.limit)};
  page.rules = rules_snapshot();
  page.now_us = now_us();
  if (rq.stream.empty()) {
    ES_RETURN_IF_ERROR(read_all(rq, &page));
  } else {
    ES_RETURN_IF_ERROR(read_stream(rq, &page));
  }
  return out;
}

Result<std::string> Store::record_at(void* txn_ptr, Position p) const {
  MDB_txn* txn = static_cast<MDB_txn*>(txn_ptr);
  std::string key = pos_key(p);
  MDB_val k = to_val(key), v{};
  int rc = mdb_get(txn, dbs_->log, &k, &v);
  if (rc == MDB_NOTFOUND)
    return Status::corruption("position " + std::to_string(p) + " is indexed but not in the log");
  if (rc != 0) return lmdb_status(rc, "mdb_get log");
  return std::string(to_view(v));
}

Status Store::read_all(const ReadRequest& rq, void* page_ptr) const {
  Page& page = *static_cast<Page*>(page_ptr);
  ReadResult* out = page.out;
  Snapshot snap;
  Position p = 0, head = 0;
  {
    auto lock = tail_->read_lock();
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
    head = tail_->empty() ? snap.head : std::max(snap.head, tail_->last());
    out->head = head;
    p = rq.from_end ? head : rq.from;
    if (!rq.backwards && p == 0) p = 1;
    if (rq.backwards && p > head) p = head;
    out->end = true;
    out->next = rq.backwards ? 0 : std::max<Position>(p, head + 1);
    if (p == 0 || (!rq.backwards && p > head)) return {};
    if (rq.backwards) {
      // The tail's part first, while the lock holds it.
      for (; !tail_->empty() && p >= tail_->first() && p <= tail_->last() && p > 0; --p) {
        if (page.full()) break;
        page.offer(*tail_->at(p));
      }
    }
  }
  for (int round = 0;; ++round) {
    // LMDB's part, without the tail's lock.
    if (!rq.backwards || (p > 0 && !page.full())) {
      if (rq.backwards) p = std::min(p, snap.head);
      Cursor cur;
      ES_RETURN_IF_ERROR(cur.open(snap.txn, dbs_->log));
      std::string key = pos_key(p);
      MDB_val k = to_val(key), v{};
      // Never past the head the read started at (a newer snapshot may hold more).
      const Position until = std::min(snap.head, head);
      int rc = p >= 1 && p <= until ? cur.get(&k, &v, MDB_SET_KEY) : MDB_NOTFOUND;
      RecordedEvent e;
      while (rc == 0 && !page.full()) {
        ES_RETURN_IF_ERROR(store::decode_record(to_view(v), &e));
        e.position = p;
        page.offer(std::move(e));
        if (rq.backwards) {
          --p;
        } else {
          ++p;
        }
        rc = p >= 1 && p <= until ? cur.get(&k, &v, rq.backwards ? MDB_PREV : MDB_NEXT)
                                  : MDB_NOTFOUND;
      }
      if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get log");
    }
    if (rq.backwards || page.full() || p > head) break;
    // Past LMDB's snapshot: the tail holds the rest, unless the applier
    // has moved it into LMDB since; then a newer snapshot does.
    auto lock = tail_->read_lock();
    if (!tail_->empty() && p >= tail_->first()) {
      for (; p <= head && !page.full(); ++p) page.offer(*tail_->at(p));
      break;
    }
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
    if (snap.head < p) return Status::corruption("position " + std::to_string(p) + " is missing");
  }
  if (rq.backwards) {
    out->end = p == 0 || !page.full();
    out->next = out->end ? 0 : p;
  } else {
    out->end = p > head;
    out->next = p;
  }
  return {};
}

Status Store::read_stream(const ReadRequest& rq, void* page_ptr) const {
  Page& page = *static_cast<Page*>(page_ptr);
  ReadResult* out = page.out;
  Snapshot snap;
  // The stream as LMDB's snapshot has it, and its last version overall.
  std::optional<store::StreamRow> row;
  auto load_row = [&]() -> Status {
    row.reset();
    std::string_view v;
    int rc = snap.txn.get(dbs_->streams, rq.stream, &v);
    if (rc == MDB_NOTFOUND) return {};
    ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get streams"));
    auto parsed = store::parse_stream_row(v, rq.stream);
    if (!parsed.ok()) return parsed.status();
    row = *parsed;
    return {};
  };
  auto lmdb_last = [&]() -> std::int64_t {
    return row ? static_cast<std::int64_t>(*row->last) : -1;
  };
  std::int64_t last = -1, ver = 0;
  std::int64_t low = 0;  // the first version shown: deletion, retention, removal
  const std::int64_t step = rq.backwards ? -1 : 1;
  auto visible_bound = [&](std::int64_t last_version) -> Status {
    if (row) low = std::max(low, static_cast<std::int64_t>(row->first_indexed));
    if (!page.rules) return {};
    auto it = page.rules->find(rq.stream);
    if (it == page.rules->end()) return {};
    const StreamRules& rules = it->second->rules;
    const auto l = static_cast<Version>(last_version);
    if (rules.deleted(l)) {
      return Status(Code::kStreamDeleted,
                    "stream " + rq.stream + " was deleted" + (rules.tombstone ? " for good" : ""));
    }
    low = std::max(low, static_cast<std::int64_t>(rules.visible_from(l)));
    return {};
  };
  // Copies the tail's events of the stream from `ver` on (under its lock).
  auto from_tail = [&] {
    const store::Tail::Stream* ts = tail_->stream(rq.stream);
    if (ts == nullptr) return false;
    const auto first = static_cast<std::int64_t>(ts->first_version);
    if (ver < first || ver > last) return false;
    for (; ver >= std::max(first, low) && ver <= last && !page.full(); ver += step) {
      const Position pos = ts->positions[static_cast<std::size_t>(ver - first)];
      page.offer(*tail_->at(pos));
    }
    return true;
  };
  {
    auto lock = tail_->read_lock();
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
    ES_RETURN_IF_ERROR(load_row());
    out->head = tail_->empty() ? snap.head : std::max(snap.head, tail_->last());
    const store::Tail::Stream* ts = tail_->stream(rq.stream);
    if (ts == nullptr && !row) return Status::not_found("stream " + rq.stream + " does not exist");
    last = ts != nullptr ? static_cast<std::int64_t>(ts->last_version()) : lmdb_last();
    ES_RETURN_IF_ERROR(visible_bound(last));
    ver =
        rq.from_end ? last : static_cast<std::int64_t>(std::min<std::uint64_t>(rq.from, last + 1));
    if (rq.backwards && ver > last) ver = last;
    if (!rq.backwards) ver = std::max(ver, low);
    if (rq.backwards) from_tail();
  }
  for (;;) {
    while (ver >= low && ver <= std::min(last, lmdb_last()) && !page.full()) {
      std::string_view iv;
      int rc = snap.txn.get(dbs_->index, index_key(row->id, static_cast<Version>(ver)), &iv);
      if (rc != 0 || iv.size() != 8) {
        return Status::corruption("stream " + rq.stream + " has no index entry for version " +
                                  std::to_string(ver));
      }
      const Position p = get_le64(iv.data());
      auto raw = record_at(snap.txn.get(), p);
      if (!raw.ok()) return raw.status();
      RecordedEvent e;
      ES_RETURN_IF_ERROR(store::decode_record(*raw, &e));
      e.position = p;
      page.offer(std::move(e));
      ver += step;
    }
    if (rq.backwards || page.full() || ver > last) break;
    auto lock = tail_->read_lock();
    if (from_tail()) break;
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
    ES_RETURN_IF_ERROR(load_row());
    // The applier may have removed what the rules hid meanwhile.
    if (row) ver = std::max(ver, static_cast<std::int64_t>(row->first_indexed));
    if (ver > last) break;
    if (lmdb_last() < ver) {
      return Status::corruption("stream " + rq.stream + " version " + std::to_string(ver) +
                                " is missing");
    }
  }
  out->end = ver < low || ver > last;
  out->next = ver < low ? 0 : static_cast<std::uint64_t>(ver);
  return {};
}

Result<std::optional<Position>> Store::checkpoint(std::string_view name) const {
  Snapshot snap;
  {
    auto lock = tail_->read_lock();
    if (const auto* moved = tail_->checkpoint(name)) return moved->position;
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
  }
  std::string_view v;
  int rc = snap.txn.get(dbs_->checkpoints, name, &v);
  if (rc == MDB_NOTFOUND) return std::optional<Position>();
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get checkpoints"));
  if (v.size() != 8) return Status::corruption("checkpoint " + std::string(name) + " is malformed");
  return std::optional<Position>(get_le64(v.data()));
}

Result<std::vector<Checkpoint>> Store::checkpoints() const {
  Snapshot snap;
  std::map<std::string, std::optional<Position>, std::less<>> moved;  // nullopt: removed
  {
    auto lock = tail_->read_lock();
    for (const auto& [name, at] : tail_->checkpoints()) moved.emplace(name, at.position);
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
  }
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(snap.txn, dbs_->checkpoints));
  MDB_val k{}, v{};
  int rc = cur.get(&k, &v, MDB_FIRST);
  for (; rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    if (v.mv_size != 8)
      return Status::corruption("checkpoint " + std::string(to_view(k)) + " is malformed");
    moved.emplace(std::string(to_view(k)), get_le64(static_cast<const char*>(v.mv_data)));
  }
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get checkpoints");
  std::vector<Checkpoint> out;
  for (auto& [name, p] : moved)
    if (p) out.push_back(Checkpoint{name, *p});
  return out;
}

Result<Chain> Store::chain_at(Position position) const {
  if (position == 0) return kChainStart;
  Snapshot snap;
  {
    auto lock = tail_->read_lock();
    if (const RecordedEvent* e = tail_->at(position)) return e->chain;
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
  }
  std::string_view v;
  int rc = snap.txn.get(dbs_->log, pos_key(position), &v);
  if (rc == MDB_NOTFOUND)
    return Status::not_found("position " + std::to_string(position) + " is past the head");
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get log"));
  RecordedEvent e;
  ES_RETURN_IF_ERROR(store::decode_record(v, &e));
  return e.chain;
}

namespace store {

Status verify_log(const Txn& txn, MDB_dbi log, Position up_to, ChainVerifier* verifier) {
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(txn, log));
  RecordedEvent e;
  MDB_val k{}, v{};
  int rc = cur.get(&k, &v, MDB_FIRST);
  for (; rc == 0 && (up_to == 0 || verifier->head() < up_to); rc = cur.get(&k, &v, MDB_NEXT)) {
    const Position p = k.mv_size == 8 ? get_be64(static_cast<const char*>(k.mv_data)) : 0;
    std::string_view record = to_view(v);
    if (Status d = decode_record(record, &e); !d.ok()) {
      return Status::corruption("position " + std::to_string(p) + ": " + d.message());
    }
    const std::string_view body = record.substr(0, record.size() - kChainBytes);
    ES_RETURN_IF_ERROR(e.removed
                           ? verifier->hole(p, e.chain)
                           : verifier->next(p, e.chain, chain_next(verifier->chain(), p, body)));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get log");
  return {};
}

}  // namespace store

Result<Store::VerifyReport> Store::verify(Position up_to) const {
  Snapshot snap;
  std::vector<RecordedEvent> tail;  // what LMDB's snapshot lacks
  {
    auto lock = tail_->read_lock();
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
    if (!tail_->empty()) {
      for (Position p = std::max(tail_->first(), snap.head + 1); p <= tail_->last(); ++p)
        tail.push_back(*tail_->at(p));
    }
  }
  ChainVerifier verifier;
  ES_RETURN_IF_ERROR(store::verify_log(snap.txn, dbs_->log, up_to, &verifier));
  std::string body;
  for (const RecordedEvent& t : tail) {
    if (up_to != 0 && verifier.head() >= up_to) break;
    store::encode_record(t, &body);
    ES_RETURN_IF_ERROR(t.removed ? verifier.hole(t.position, t.chain)
                                 : verifier.next(t.position, t.chain,
                                                 chain_next(verifier.chain(), t.position, body)));
  }
  if (up_to != 0 && verifier.head() < up_to) {
    return Status::not_found("position " + std::to_string(up_to) + " is past the head " +
                             std::to_string(verifier.head()));
  }
  return VerifyReport{verifier.head(), verifier.chain(), verifier.head(), verifier.holes()};
}

Result<std::vector<StreamInfo>> Store::streams(std::string_view prefix, std::string_view after,
                                               std::size_t limit) const {
  Snapshot snap;
  std::vector<StreamInfo> newer;  // the tail's, in name order
  // A deleted stream is not listed (its row stays, for its next version).
  auto rules = rules_snapshot();
  auto gone = [&rules](std::string_view name, Version last) {
    if (!rules) return false;
    auto it = rules->find(name);
    return it != rules->end() && it->second->rules.deleted(last);
  };
  {
    auto lock = tail_->read_lock();
    const auto& ts = tail_->streams();
    for (auto it = ts.lower_bound(std::max(prefix, after)); it != ts.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      if (!after.empty() && it->first <= after) continue;
      if (gone(it->first, it->second.last_version())) continue;
      newer.push_back(
          StreamInfo{it->first, it->second.last_version(), it->second.positions.back()});
      if (newer.size() >= limit) break;
    }
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
  }
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(snap.txn, dbs_->streams));
  std::string start(std::max(prefix, after));
  MDB_val k = to_val(start), v{};
  int rc = start.empty() ? cur.get(&k, &v, MDB_FIRST) : cur.get(&k, &v, MDB_SET_RANGE);
  std::vector<StreamInfo> stored;
  for (; rc == 0 && stored.size() < limit; rc = cur.get(&k, &v, MDB_NEXT)) {
    std::string_view name = to_view(k);
    if (name.substr(0, prefix.size()) != prefix) break;
    if (!after.empty() && name <= after) continue;
    auto row = store::parse_stream_row(to_view(v), name);
    if (!row.ok()) return row.status();
    if (gone(name, *row->last)) continue;
    stored.push_back(StreamInfo{std::string(name), *row->last, row->last_position});
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get streams");
  // Merge by name; the tail's rows are the newer ones. Where LMDB's page is
  // full, names after its last are for the next page.
  if (stored.size() >= limit) {
    std::erase_if(newer, [&](const StreamInfo& i) { return i.stream > stored.back().stream; });
  }
  std::vector<StreamInfo> out;
  auto a = stored.begin(), b = newer.begin();
  while (out.size() < limit && (a != stored.end() || b != newer.end())) {
    if (b == newer.end() || (a != stored.end() && a->stream < b->stream)) {
      out.push_back(std::move(*a++));
    } else {
      if (a != stored.end() && a->stream == b->stream) ++a;
      out.push_back(std::move(*b++));
    }
  }
  return out;
}

Result<std::optional<StreamInfo>> Store::stream_info(std::string_view name) const {
  Snapshot snap;
  {
    auto lock = tail_->read_lock();
    if (const store::Tail::Stream* ts = tail_->stream(name)) {
      return std::optional<StreamInfo>(
          StreamInfo{std::string(name), ts->last_version(), ts->positions.back()});
    }
    ES_RETURN_IF_ERROR(open_snapshot(&snap));
  }
  std::string_view v;
  int rc = snap.txn.get(dbs_->streams, name, &v);
  if (rc == MDB_NOTFOUND) return std::optional<StreamInfo>();
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get streams"));
  auto row = store::parse_stream_row(v, name);
  if (!row.ok()) return row.status();
  return std::optional<StreamInfo>(StreamInfo{std::string(name), *row->last, row->last_position});
}

}  // namespace es

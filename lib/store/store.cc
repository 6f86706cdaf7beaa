#include "es/store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include <lmdb.h>
#include <spdlog/spdlog.h>

#include "es/digest.h"
#include "es/json.h"

#include "store/codec.h"
#include "store/lmdb.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace es {

using store::Cursor;
using store::get_be64;
using store::get_le64;
using store::lmdb_status;
using store::put_be64;
using store::put_le64;
using store::to_val;
using store::to_view;
using store::Txn;

struct Store::Dbs {
  MDB_dbi log = 0, streams = 0, index = 0, ids = 0, meta = 0, checkpoints = 0;
};

namespace {

constexpr std::size_t kGrowStepMax = 1ull << 30;  // at most 1 GiB per growth
constexpr std::size_t kScanLimit = 200'000;       // records examined per read call
constexpr std::size_t kDiskReserve = 1u << 20;    // left free for LMDB's own pages

struct StreamRow {
  std::uint64_t id = 0;
  std::optional<Version> last;
  Position last_position = 0;
};

std::string stream_row_value(const StreamRow& row) {
  std::string v(24, '\0');
  put_le64(v.data(), row.id);
  put_le64(v.data() + 8, *row.last);
  put_le64(v.data() + 16, row.last_position);
  return v;
}

Result<StreamRow> parse_stream_row(std::string_view v, std::string_view name) {
  if (v.size() != 24)
    return Status::corruption("stream row of '" + std::string(name) + "' is malformed");
  StreamRow row;
  row.id = get_le64(v.data());
  row.last = get_le64(v.data() + 8);
  row.last_position = get_le64(v.data() + 16);
  return row;
}

std::string pos_key(Position p) {
  std::string k(8, '\0');
  put_be64(k.data(), p);
  return k;
}

std::string index_key(std::uint64_t stream_id, Version v) {
  std::string k(16, '\0');
  put_be64(k.data(), stream_id);
  put_be64(k.data() + 8, v);
  return k;
}

std::string le64_value(std::uint64_t v) {
  std::string s(8, '\0');
  put_le64(s.data(), v);
  return s;
}

std::string_view id_key(const Uuid& id) {
  return {reinterpret_cast<const char*>(id.bytes.data()), id.bytes.size()};
}

// About what an event costs the store, to check the disk has room for it.
template <class Event>
std::size_t record_bytes(const Event& e) {
  return e.data.size() + e.metadata.size() + e.stream.size() + e.type.size() + 96;
}

std::string describe_version(std::optional<Version> v) {
  return v ? "version " + std::to_string(*v) : "no stream";
}

}  // namespace

// What one write transaction has changed so far: stream rows are read once
// and written back at the end; nothing reaches the Store's members until
// the commit succeeded.
struct Store::GroupState {
  Txn txn;
  Position head = 0;
  std::uint64_t next_stream_id = 1;
  std::uint64_t new_streams = 0;
  std::int64_t time_us = 0;
  Chain chain{};  // at head
  std::unordered_map<std::string, StreamRow> rows;
  std::unordered_set<std::string> dirty;
  std::string scratch;
};

Store::~Store() {
  if (env_ != nullptr) mdb_env_close(env_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, const StoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::io_error("cannot create data directory " + dir + ": " + ec.message());
  std::unique_ptr<Store> s(new Store());
  s->dir_ = dir;
  std::string lock_path = dir + "/esd.lock";
  s->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd_ < 0) {
    return Status::io_error("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(s->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Status(Code::kBusy, "data directory " + dir + " is in use by another process (" +
                                     lock_path + " is locked)");
    }
    return Status::io_error("cannot lock " + lock_path + ": " + std::strerror(errno));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(s->lock_fd_, 0) == 0) {
    [[maybe_unused]] auto n = ::pwrite(s->lock_fd_, pid.data(), pid.size(), 0);
  }
  ES_RETURN_IF_ERROR(s->open_env(options));
  ES_RETURN_IF_ERROR(s->load_state());
  return s;
}

Status Store::open_env(const StoreOptions& options) {
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_create(&env_), "mdb_env_create"));
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_set_maxdbs(env_, 8), "mdb_env_set_maxdbs"));
  ES_RETURN_IF_ERROR(
      lmdb_status(mdb_env_set_maxreaders(env_, options.max_readers), "mdb_env_set_maxreaders"));
  ES_RETURN_IF_ERROR(
      lmdb_status(mdb_env_set_mapsize(env_, options.initial_map_size), "mdb_env_set_mapsize"));
  unsigned flags = MDB_NOTLS;
  if (options.durability == Durability::kNoMetaSync) flags |= MDB_NOMETASYNC;
  ES_RETURN_IF_ERROR(
      lmdb_status(mdb_env_open(env_, dir_.c_str(), flags, 0644), "mdb_env_open " + dir_));
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  map_size_ = info.me_mapsize;
  int dead = 0;
  mdb_reader_check(env_, &dead);

  auto txn = Txn::begin(env_, 0);
  if (!txn.ok()) return txn.status();
  dbs_ = std::make_unique<Dbs>();
  struct Named {
    const char* name;
    MDB_dbi* dbi;
  } named[] = {{"log", &dbs_->log},     {"streams", &dbs_->streams},
               {"index", &dbs_->index}, {"ids", &dbs_->ids},
               {"meta", &dbs_->meta},   {"checkpoints", &dbs_->checkpoints}};
  for (auto& n : named) {
    ES_RETURN_IF_ERROR(lmdb_status(mdb_dbi_open(txn->get(), n.name, MDB_CREATE, n.dbi),
                                   std::string("mdb_dbi_open ") + n.name));
  }
  std::string_view format;
  int rc = txn->get(dbs_->meta, "format", &format);
  if (rc == MDB_NOTFOUND) {
    std::uint32_t v = kFormatVersion;
    rc = txn->put(dbs_->meta, "format", std::string_view(reinterpret_cast<const char*>(&v), 4));
    ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_put format"));
  } else if (rc == 0) {
    std::uint32_t v = 0;
    if (format.size() == 4) std::memcpy(&v, format.data(), 4);
    if (v != kFormatVersion) {
      return Status::corruption("data directory " + dir_ + " has store format " +
                                std::to_string(v) + "; this esd reads format " +
                                std::to_string(kFormatVersion));
    }
  } else {
    return lmdb_status(rc, "mdb_get format");
  }
  return txn->commit();
}

Status Store::load_state() {
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(*txn, dbs_->log));
  MDB_val k{}, v{};
  int rc = cur.get(&k, &v, MDB_LAST);
  if (rc == 0) {
    if (k.mv_size != 8) return Status::corruption("log key of unexpected size");
    head_ = get_be64(static_cast<const char*>(k.mv_data));
    RecordedEvent last;
    ES_RETURN_IF_ERROR(store::decode_record(to_view(v), &last));
    last_time_us_ = last.time_us;
    last_chain_ = last.chain;
  } else if (rc != MDB_NOTFOUND) {
    return lmdb_status(rc, "read log head");
  }
  MDB_stat st{};
  ES_RETURN_IF_ERROR(lmdb_status(mdb_stat(txn->get(), dbs_->streams, &st), "mdb_stat"));
  stream_count_ = st.ms_entries;
  std::string_view next;
  rc = txn->get(dbs_->meta, "next_stream_id", &next);
  if (rc == 0 && next.size() == 8) next_stream_id_ = get_le64(next.data());
  return {};
}

Status Store::validate(const AppendRequest& request) {
  if (request.events.empty() && request.expectations.empty()) {
    return Status::invalid("an append needs at least one event");
  }
  if (request.events.size() > kMaxAppendEvents) {
    return Status::invalid("an append holds at most " + std::to_string(kMaxAppendEvents) +
                           " events, not " + std::to_string(request.events.size()));
  }
  std::size_t bytes = 0;
  std::unordered_set<std::string_view> ids;
  for (const auto& e : request.events) {
    ES_RETURN_IF_ERROR(validate_name("stream name", e.stream));
    ES_RETURN_IF_ERROR(validate_name("event type", e.type));
    if (e.id.is_nil()) return Status::invalid("event id must not be the nil UUID");
    if (!ids.insert(id_key(e.id)).second) {
      return Status::invalid("event id " + e.id.to_string() + " appears twice in one append");
    }
    if (e.data.empty()) return Status::invalid("event data must be a JSON value");
    if (e.data.size() > kMaxDataBytes) {
      return Status::invalid("event data is " + std::to_string(e.data.size()) +
                             " bytes; the limit is " + std::to_string(kMaxDataBytes));
    }
    if (e.metadata.size() > kMaxMetadataBytes) {
      return Status::invalid("event metadata is " + std::to_string(e.metadata.size()) +
                             " bytes; the limit is " + std::to_string(kMaxMetadataBytes));
    }
    bytes += e.stream.size() + e.type.size() + e.data.size() + e.metadata.size() + 64;
  }
  if (bytes > kMaxAppendBytes) {
    return Status::invalid("an append holds at most " + std::to_string(kMaxAppendBytes >> 20) +
                           " MiB");
  }
  for (const auto& x : request.expectations)
    ES_RETURN_IF_ERROR(validate_name("stream name", x.stream));
  return {};
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

namespace {

// Reads (and caches for the transaction) the row of `name`.
Result<StreamRow*> load_row(Txn& txn, MDB_dbi streams,
                            std::unordered_map<std::string, StreamRow>& rows,
                            const std::string& name) {
  auto it = rows.find(name);
  if (it != rows.end()) return &it->second;
  std::string_view v;
  int rc = txn.get(streams, name, &v);
  StreamRow row;
  if (rc == 0) {
    auto parsed = parse_stream_row(v, name);
    if (!parsed.ok()) return parsed.status();
    row = *parsed;
  } else if (rc != MDB_NOTFOUND) {
    return lmdb_status(rc, "mdb_get streams");
  }
  return &rows.emplace(name, row).first->second;
}

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

}  // namespace

Status Store::apply_group(std::span<const AppendRequest* const> requests,
                          std::vector<Result<AppendResult>>* results,
                          std::vector<RecordedEvent>* committed,
                          std::span<const Checkpoint> checkpoints,
                          std::vector<Result<Position>>* checkpoint_results) {
  results->clear();
  committed->clear();
  checkpoint_results->clear();
  GroupState g;
  ES_RETURN_IF_ERROR(begin_group(g));
  g.time_us = std::max(now_us(), g.time_us);

  for (const AppendRequest* req : requests) {
    // 0. Shape and limits: a malformed request fails alone, never the group.
    if (Status v = validate(*req); !v.ok()) {
      results->push_back(v);
      continue;
    }
    // 1. Idempotency: are these ids stored already?
    std::vector<Position> found;
    for (const auto& e : req->events) {
      std::string_view v;
      int rc = g.txn.get(dbs_->ids, id_key(e.id), &v);
      if (rc == 0 && v.size() == 8) {
        found.push_back(get_le64(v.data()));
      } else if (rc != MDB_NOTFOUND) {
        return lmdb_status(rc, "mdb_get ids");
      }
    }
    if (!found.empty()) {
      results->push_back(check_retry(g, *req, found));
      continue;
    }
    // 2. Expectations, against what this transaction has written so far.
    Status conflict;
    for (const auto& x : req->expectations) {
      auto row = load_row(g.txn, dbs_->streams, g.rows, x.stream);
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
    if (!conflict.ok()) {
      results->push_back(conflict);
      continue;
    }
    // 3. Write. Only storage errors can fail from here; they fail the group.
    AppendResult result;
    for (const auto& e : req->events) {
      auto row_r = load_row(g.txn, dbs_->streams, g.rows, e.stream);
      if (!row_r.ok()) return row_r.status();
      StreamRow& row = **row_r;
      if (row.id == 0) {
        row.id = g.next_stream_id++;
        ++g.new_streams;
      }
      RecordedEvent rec;
      rec.position = ++g.head;
      rec.stream = e.stream;
      rec.version = row.last ? *row.last + 1 : 0;
      rec.id = e.id;
      rec.type = e.type;
      rec.time_us = g.time_us;
      rec.data = e.data;
      rec.metadata = e.metadata;
      ES_RETURN_IF_ERROR(write_record(g, rec, row.id));
      row.last = rec.version;
      row.last_position = rec.position;
      g.dirty.insert(e.stream);
      note_written(written_for(result, e.stream), rec.version, rec.position);
      committed->push_back(std::move(rec));
    }
    results->push_back(std::move(result));
  }

  ES_RETURN_IF_ERROR(write_rows(g));
  bool checkpoint_moved = false;
  for (const Checkpoint& c : checkpoints) {
    if (Status v = validate(c); !v.ok()) {
      checkpoint_results->push_back(v);
      continue;
    }
    if (c.position > g.head) {
      checkpoint_results->push_back(
          Status::invalid("checkpoint " + c.name + ": position " + std::to_string(c.position) +
                          " is beyond the head " + std::to_string(g.head)));
      continue;
    }
    std::string_view stored;
    int rc = g.txn.get(dbs_->checkpoints, c.name, &stored);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_get checkpoints");
    if (rc == 0 && stored.size() == 8 && get_le64(stored.data()) >= c.position) {
      checkpoint_results->push_back(get_le64(stored.data()));  // forward only
      continue;
    }
    rc = g.txn.put(dbs_->checkpoints, c.name, le64_value(c.position));
    if (rc == MDB_MAP_FULL) map_full_ = true;
    if (rc != 0) return lmdb_status(rc, "mdb_put checkpoints");
    checkpoint_results->push_back(c.position);
    checkpoint_moved = true;
  }
  // Nothing written: the transaction aborts.
  if (committed->empty() && !checkpoint_moved) return {};
  return commit(g);
}

// Opens a write transaction at the Store's head.
Status Store::begin_group(GroupState& g) {
  auto begun = Txn::begin(env_, 0);
  if (!begun.ok()) return begun.status();
  g.txn = std::move(begun).value();
  g.head = head_.load();
  g.next_stream_id = next_stream_id_;
  g.time_us = last_time_us_.load();
  g.chain = last_chain_;
  return {};
}

// Writes `rec` (its position and version set) to the log, the stream index
// and the ids, with its chain, which it sets.
Status Store::write_record(GroupState& g, RecordedEvent& rec, std::uint64_t stream_id) {
  store::encode_record(rec, &g.scratch);
  rec.chain = chain_next(g.chain, rec.position, g.scratch);
  g.scratch.append(reinterpret_cast<const char*>(rec.chain.data()), rec.chain.size());
  std::string pv = le64_value(rec.position);
  int rc = g.txn.put(dbs_->log, pos_key(rec.position), g.scratch, MDB_APPEND);
  if (rc == 0) rc = g.txn.put(dbs_->index, index_key(stream_id, rec.version), pv);
  if (rc == 0) rc = g.txn.put(dbs_->ids, id_key(rec.id), pv, MDB_NOOVERWRITE);
  if (rc == MDB_MAP_FULL) map_full_ = true;
  if (rc == MDB_KEYEXIST) {
    return Status(Code::kDuplicateId, "event id " + rec.id.to_string() + " at position " +
                                          std::to_string(rec.position) +
                                          " is stored already at another position");
  }
  if (rc != 0) return lmdb_status(rc, "mdb_put");
  g.chain = rec.chain;
  return {};
}

// Writes back the stream rows the transaction changed.
Status Store::write_rows(GroupState& g) {
  for (const auto& name : g.dirty) {
    int rc = g.txn.put(dbs_->streams, name, stream_row_value(g.rows[name]));
    if (rc == MDB_MAP_FULL) map_full_ = true;
    if (rc != 0) return lmdb_status(rc, "mdb_put streams");
  }
  if (g.next_stream_id != next_stream_id_) {
    int rc = g.txn.put(dbs_->meta, "next_stream_id", le64_value(g.next_stream_id));
    if (rc == MDB_MAP_FULL) map_full_ = true;
    if (rc != 0) return lmdb_status(rc, "mdb_put meta");
  }
  return {};
}

// Commits, then makes the transaction's head and counters the Store's.
Status Store::commit(GroupState& g) {
  int rc = g.txn.commit_rc();
  if (rc == MDB_MAP_FULL) map_full_ = true;
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_txn_commit"));
  head_.store(g.head, std::memory_order_release);
  stream_count_.fetch_add(g.new_streams, std::memory_order_release);
  next_stream_id_ = g.next_stream_id;
  last_time_us_ = g.time_us;
  last_chain_ = g.chain;
  return {};
}

Status Store::apply_replicated(std::span<const RecordedEvent> events,
                               std::vector<RecordedEvent>* committed) {
  committed->clear();
  GroupState g;
  ES_RETURN_IF_ERROR(begin_group(g));
  for (const RecordedEvent& e : events) {
    auto at = [&e] { return "position " + std::to_string(e.position); };
    if (e.position != g.head + 1) {
      return Status(Code::kDiverged, "the primary sent " + at() + " where this store expects " +
                                         std::to_string(g.head + 1));
    }
    ES_RETURN_IF_ERROR(validate_name("stream name", e.stream));
    ES_RETURN_IF_ERROR(validate_name("event type", e.type));
    auto row_r = load_row(g.txn, dbs_->streams, g.rows, e.stream);
    if (!row_r.ok()) return row_r.status();
    StreamRow& row = **row_r;
    const Version expected = row.last ? *row.last + 1 : 0;
    if (e.version != expected) {
      return Status(Code::kDiverged, at() + " holds version " + std::to_string(e.version) + " of " +
                                         e.stream + " on the primary; here that stream's next is " +
                                         std::to_string(expected));
    }
    if (row.id == 0) {
      row.id = g.next_stream_id++;
      ++g.new_streams;
    }
    RecordedEvent rec = e;
    ++g.head;
    if (Status w = write_record(g, rec, row.id); !w.ok()) {
      if (w.code() != Code::kDuplicateId) return w;
      return Status(Code::kDiverged, w.message());
    }
    if (rec.chain != e.chain) {
      return Status(Code::kDiverged, at() + ": the primary's chain digest is " + to_hex(e.chain) +
                                         ", this store's is " + to_hex(rec.chain) +
                                         ": the two logs differ at or before it");
    }
    row.last = rec.version;
    row.last_position = rec.position;
    g.dirty.insert(rec.stream);
    g.time_us = std::max(g.time_us, rec.time_us);
    committed->push_back(std::move(rec));
  }
  if (committed->empty()) return {};
  ES_RETURN_IF_ERROR(write_rows(g));
  return commit(g);
}

}  // namespace es

namespace es {

// All of `request`'s ids are stored (`found` holds the positions of those
// that are): a retry succeeds only if every event is stored, in order, with
// the same content, in the place the request asks for.
Result<AppendResult> Store::check_retry(GroupState& g, const AppendRequest& request,
                                        const std::vector<Position>& found) const {
  const auto& events = request.events;
  if (found.size() != events.size()) {
    return Status(Code::kDuplicateId,
                  "some event ids of this append are stored already and others are not: "
                  "a retry must resend the same events");
  }
  AppendResult result;
  result.already_stored = true;
  RecordedEvent stored;
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto raw = record_at(g.txn.get(), found[i]);
    if (!raw.ok()) return raw.status();
    ES_RETURN_IF_ERROR(store::decode_record(*raw, &stored));
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

// Refuses a group the disk has no room for, before anything is written:
// LMDB reports a short write as EIO, which esd must treat as fatal, so a
// full disk has to be caught before the commit. Keeps kDiskReserve free.
Status Store::check_room(std::size_t payload_bytes) const {
  std::size_t need = kDiskReserve + 4 * payload_bytes;
  struct statvfs vfs {};
  if (::statvfs(dir_.c_str(), &vfs) != 0) return {};
  std::size_t avail = static_cast<std::size_t>(vfs.f_bavail) * vfs.f_frsize;
  if (avail >= need) return {};
  return Status(Code::kDiskFull, "disk full: " + std::to_string(avail) +
                                     " bytes left on the disk of " + dir_ +
                                     ", this append needs about " + std::to_string(need) +
                                     " (with a reserve of " + std::to_string(kDiskReserve) + ")");
}

Status Store::append_group(std::span<const AppendRequest* const> requests,
                           std::vector<Result<AppendResult>>* results,
                           std::vector<RecordedEvent>* committed,
                           std::span<const Checkpoint> checkpoints,
                           std::vector<Result<Position>>* checkpoint_results) {
  std::vector<Result<Position>> ignored;
  if (checkpoint_results == nullptr) checkpoint_results = &ignored;
  std::size_t bytes = 0;
  for (const AppendRequest* r : requests) {
    for (const auto& e : r->events) bytes += record_bytes(e);
  }
  return with_room(
      bytes,
      [&] { return apply_group(requests, results, committed, checkpoints, checkpoint_results); },
      [&] {
        results->clear();
        committed->clear();
        checkpoint_results->clear();
      });
}

Status Store::replicate(std::span<const RecordedEvent> events,
                        std::vector<RecordedEvent>* committed) {
  std::size_t bytes = 0;
  for (const auto& e : events) bytes += record_bytes(e);
  return with_room(
      bytes, [&] { return apply_replicated(events, committed); }, [&] { committed->clear(); });
}

template <class Apply, class Clear>
Status Store::with_room(std::size_t payload_bytes, Apply apply, Clear clear) {
  std::lock_guard lock(append_mu_);  // one writer at a time, whoever calls
  if (Status room = check_room(payload_bytes); !room.ok()) {
    clear();
    return room;
  }
  for (;;) {
    map_full_ = false;
    Status s = apply();
    if (s.ok() || !map_full_) {
      if (!s.ok()) clear();
      return s;
    }
    ES_RETURN_IF_ERROR(grow_map());
  }
}

Result<AppendResult> Store::append(const AppendRequest& request) {
  const AppendRequest* one[] = {&request};
  std::vector<Result<AppendResult>> results;
  std::vector<RecordedEvent> committed;
  ES_RETURN_IF_ERROR(append_group(one, &results, &committed));
  return std::move(results.front());
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

bool ReadRequest::matches(const RecordedEvent& e) const {
  if (!category.empty() && category_of(e.stream) != category) return false;
  if (types.empty()) return true;
  return std::find(types.begin(), types.end(), e.type) != types.end();
}

Result<ReadResult> Store::read(const ReadRequest& rq) const {
  std::shared_lock lock(resize_mu_);
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  ReadResult out;
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(*txn, dbs_->log));
  MDB_val k{}, v{};
  int rc = cur.get(&k, &v, MDB_LAST);
  if (rc == 0) out.head = get_be64(static_cast<const char*>(k.mv_data));
  if (rq.stream.empty()) {
    ES_RETURN_IF_ERROR(read_all(txn->get(), rq, &out));
  } else {
    ES_RETURN_IF_ERROR(read_stream(txn->get(), rq, &out));
  }
  return out;
}

namespace {

std::size_t page_limit(std::uint32_t limit) {
  return limit == 0 ? kMaxReadLimit : std::min<std::size_t>(limit, kMaxReadLimit);
}

}  // namespace

Status Store::read_stream(void* txn_ptr, const ReadRequest& rq, ReadResult* out) const {
  MDB_txn* txn = static_cast<MDB_txn*>(txn_ptr);
  MDB_val k = to_val(rq.stream), v{};
  int rc = mdb_get(txn, dbs_->streams, &k, &v);
  if (rc == MDB_NOTFOUND) return Status::not_found("stream " + rq.stream + " does not exist");
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get streams"));
  auto row = parse_stream_row(to_view(v), rq.stream);
  if (!row.ok()) return row.status();
  const Version last = *row->last;
  std::size_t limit = page_limit(rq.limit), scanned = 0, bytes = 0;
  std::int64_t ver = rq.from_end
                         ? static_cast<std::int64_t>(last)
                         : static_cast<std::int64_t>(std::min<std::uint64_t>(rq.from, last + 1));
  if (rq.backwards && ver > static_cast<std::int64_t>(last)) ver = static_cast<std::int64_t>(last);
  const std::int64_t step = rq.backwards ? -1 : 1;
  RecordedEvent e;
  while (ver >= 0 && ver <= static_cast<std::int64_t>(last)) {
    if (out->events.size() >= limit || scanned >= kScanLimit || bytes >= kMaxReplyBytes) break;
    std::string key = index_key(row->id, static_cast<Version>(ver));
    MDB_val ik = to_val(key), iv{};
    rc = mdb_get(txn, dbs_->index, &ik, &iv);
    if (rc != 0 || iv.mv_size != 8) {
      return Status::corruption("stream " + rq.stream + " has no index entry for version " +
                                std::to_string(ver));
    }
    Position p = get_le64(static_cast<const char*>(iv.mv_data));
    auto raw = record_at(txn, p);
    if (!raw.ok()) return raw.status();
    ES_RETURN_IF_ERROR(store::decode_record(*raw, &e));
    e.position = p;
    ++scanned;
    if (rq.matches(e)) {
      bytes += e.data.size() + e.metadata.size() + 128;
      out->events.push_back(e);
    }
    ver += step;
  }
  out->end = ver < 0 || ver > static_cast<std::int64_t>(last);
  out->next = ver < 0 ? 0 : static_cast<std::uint64_t>(ver);
  return {};
}

Status Store::read_all(void* txn_ptr, const ReadRequest& rq, ReadResult* out) const {
  MDB_txn* txn = static_cast<MDB_txn*>(txn_ptr);
  MDB_cursor* raw_cur = nullptr;
  ES_RETURN_IF_ERROR(lmdb_status(mdb_cursor_open(txn, dbs_->log, &raw_cur), "mdb_cursor_open"));
  std::unique_ptr<MDB_cursor, decltype(&mdb_cursor_close)> cur(raw_cur, &mdb_cursor_close);
  std::size_t limit = page_limit(rq.limit), scanned = 0, bytes = 0;
  Position start = rq.from_end ? out->head : rq.from;
  if (!rq.backwards && start == 0) start = 1;
  if (rq.backwards && start > out->head) start = out->head;
  out->end = true;
  out->next = rq.backwards ? 0 : std::max<Position>(start, out->head + 1);
  if (start == 0 || (!rq.backwards && start > out->head)) return {};
  std::string key = pos_key(start);
  MDB_val k = to_val(key), v{};
  int rc = mdb_cursor_get(cur.get(), &k, &v, MDB_SET_KEY);
  const MDB_cursor_op step = rq.backwards ? MDB_PREV : MDB_NEXT;
  RecordedEvent e;
  Position pos = start;
  while (rc == 0) {
    pos = get_be64(static_cast<const char*>(k.mv_data));
    if (out->events.size() >= limit || scanned >= kScanLimit || bytes >= kMaxReplyBytes) {
      out->end = false;
      out->next = pos;
      return {};
    }
    ES_RETURN_IF_ERROR(store::decode_record(to_view(v), &e));
    e.position = pos;
    ++scanned;
    if (rq.matches(e)) {
      bytes += e.data.size() + e.metadata.size() + 128;
      out->events.push_back(e);
    }
    rc = mdb_cursor_get(cur.get(), &k, &v, step);
  }
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get log");
  out->next = rq.backwards ? 0 : pos + 1;
  return {};
}

Status Store::validate(const Checkpoint& checkpoint) {
  return validate_name("subscription name", checkpoint.name);
}

Result<std::optional<Position>> Store::checkpoint(std::string_view name) const {
  std::shared_lock lock(resize_mu_);
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  std::string_view v;
  int rc = txn->get(dbs_->checkpoints, name, &v);
  if (rc == MDB_NOTFOUND) return std::optional<Position>();
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get checkpoints"));
  if (v.size() != 8) return Status::corruption("checkpoint " + std::string(name) + " is malformed");
  return std::optional<Position>(get_le64(v.data()));
}

Result<std::vector<Checkpoint>> Store::checkpoints() const {
  std::shared_lock lock(resize_mu_);
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(*txn, dbs_->checkpoints));
  MDB_val k{}, v{};
  std::vector<Checkpoint> out;
  int rc = cur.get(&k, &v, MDB_FIRST);
  for (; rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    if (v.mv_size != 8)
      return Status::corruption("checkpoint " + std::string(to_view(k)) + " is malformed");
    out.push_back(
        Checkpoint{std::string(to_view(k)), get_le64(static_cast<const char*>(v.mv_data))});
  }
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get checkpoints");
  return out;
}

Result<Chain> Store::chain_at(Position position) const {
  if (position == 0) return kChainStart;
  std::shared_lock lock(resize_mu_);
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  std::string_view v;
  int rc = txn->get(dbs_->log, pos_key(position), &v);
  if (rc == MDB_NOTFOUND)
    return Status::not_found("position " + std::to_string(position) + " is past the head");
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get log"));
  RecordedEvent e;
  ES_RETURN_IF_ERROR(store::decode_record(v, &e));
  return e.chain;
}

Result<Store::VerifyReport> Store::verify(Position up_to) const {
  std::shared_lock lock(resize_mu_);
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(*txn, dbs_->log));
  ChainVerifier verifier;
  RecordedEvent e;
  MDB_val k{}, v{};
  int rc = cur.get(&k, &v, MDB_FIRST);
  for (; rc == 0 && (up_to == 0 || verifier.head() < up_to); rc = cur.get(&k, &v, MDB_NEXT)) {
    const Position p = k.mv_size == 8 ? get_be64(static_cast<const char*>(k.mv_data)) : 0;
    std::string_view record = to_view(v);
    if (Status d = store::decode_record(record, &e); !d.ok()) {
      return Status::corruption("position " + std::to_string(p) + ": " + d.message());
    }
    const std::string_view body = record.substr(0, record.size() - store::kChainBytes);
    ES_RETURN_IF_ERROR(verifier.next(p, e.chain, chain_next(verifier.chain(), p, body)));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get log");
  if (up_to != 0 && verifier.head() < up_to) {
    return Status::not_found("position " + std::to_string(up_to) + " is past the head " +
                             std::to_string(verifier.head()));
  }
  return VerifyReport{verifier.head(), verifier.chain(), verifier.head()};
}

Result<std::vector<StreamInfo>> Store::streams(std::string_view prefix, std::string_view after,
                                               std::size_t limit) const {
  std::shared_lock lock(resize_mu_);
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(*txn, dbs_->streams));
  std::string start(std::max(prefix, after));
  MDB_val k = to_val(start), v{};
  int rc = start.empty() ? cur.get(&k, &v, MDB_FIRST) : cur.get(&k, &v, MDB_SET_RANGE);
  std::vector<StreamInfo> out;
  for (; rc == 0 && out.size() < limit; rc = cur.get(&k, &v, MDB_NEXT)) {
    std::string_view name = to_view(k);
    if (name.substr(0, prefix.size()) != prefix) break;
    if (!after.empty() && name <= after) continue;
    auto row = parse_stream_row(to_view(v), name);
    if (!row.ok()) return row.status();
    out.push_back(StreamInfo{std::string(name), *row->last, row->last_position});
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get streams");
  return out;
}

Result<std::optional<StreamInfo>> Store::stream_info(std::string_view name) const {
  std::shared_lock lock(resize_mu_);
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  std::string_view v;
  int rc = txn->get(dbs_->streams, name, &v);
  if (rc == MDB_NOTFOUND) return std::optional<StreamInfo>();
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get streams"));
  auto row = parse_stream_row(v, name);
  if (!row.ok()) return row.status();
  return std::optional<StreamInfo>(StreamInfo{std::string(name), *row->last, row->last_position});
}

std::uint64_t Store::size_bytes() const {
  struct stat st {};
  std::string path = dir_ + "/data.mdb";
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

std::size_t Store::map_size() const {
  std::shared_lock lock(resize_mu_);
  return map_size_;
}

int Store::check_readers() {
  int dead = 0;
  mdb_reader_check(env_, &dead);
  return dead;
}

}  // namespace es

// The Store's opening and format, recovery from the journal, and closing.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "es/digest.h"

#include "store/codec.h"
#include "store/private_files.h"
#include "store/store_internal.h"
#include "store/tail.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace es {

using store::Cursor;
using store::get_be64;
using store::get_le64;
using store::id_key;
using store::lmdb_status;
using store::to_view;
using store::Txn;

namespace store {
std::int64_t now_us_monotonic() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace store

Store::Store() : tail_(std::make_unique<store::Tail>()), applier_(std::make_unique<Applier>()) {}

Store::~Store() {
  if (applier_->thread.joinable()) {
    {
      std::lock_guard lock(applier_->mu);
      applier_->closing = true;
    }
    applier_->wake.notify_all();
    applier_->thread.join();
  }
  id_filters_.reset();  // its builder's snapshots first
  if (env_ != nullptr) mdb_env_close(env_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, const StoreOptions& options) {
  ES_RETURN_IF_ERROR(store::prepare_private_dir(dir));
  for (const char* file : {"/esd.lock", "/data.mdb", "/lock.mdb", "/journal"})
    ES_RETURN_IF_ERROR(store::make_private(dir + file));
  std::unique_ptr<Store> s(new Store());
  s->dir_ = dir;
  s->metrics_ = options.metrics;
  std::string lock_path = dir + "/esd.lock";
  s->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
  ES_RETURN_IF_ERROR(s->open_journal(options));
  s->make_id_filters(options);
  ES_RETURN_IF_ERROR(s->recover());
  ES_RETURN_IF_ERROR(s->load_rules());
  ES_RETURN_IF_ERROR(s->start_id_filter());
  s->applier_->apply_bytes = s->apply_bytes();
  s->applier_->thread = std::thread([p = s.get()] { p->apply_loop(); });
  return s;
}

void Store::make_id_filters(const StoreOptions& options) {
  auto scan = [this](std::string* after, std::size_t limit,
                     const std::function<void(std::string_view)>& each, bool* done) -> Status {
    std::shared_lock resize(resize_mu_);  // the map must not move under the snapshot
    auto begun = Txn::begin(env_, MDB_RDONLY);
    if (!begun.ok()) return begun.status();
    Cursor cur;
    ES_RETURN_IF_ERROR(cur.open(*begun, dbs_->ids));
    MDB_val k = store::to_val(*after), v{};
    int rc = after->empty() ? cur.get(&k, &v, MDB_FIRST) : cur.get(&k, &v, MDB_SET_RANGE);
    if (rc == 0 && !after->empty() && store::to_view(k) == *after) rc = cur.get(&k, &v, MDB_NEXT);
    for (std::size_t n = 0; rc == 0 && n < limit; ++n) {
      each(store::to_view(k));
      after->assign(store::to_view(k));
      rc = cur.get(&k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get ids");
    *done = rc == MDB_NOTFOUND;
    return {};
  };
  id_filters_ = std::make_unique<store::IdFilters>(std::move(scan), options.id_filter_min_ids);
}

// After recovery: the filter is built from what LMDB holds then.
Status Store::start_id_filter() {
  auto begun = Txn::begin(env_, MDB_RDONLY);
  if (!begun.ok()) return begun.status();
  MDB_stat st{};
  ES_RETURN_IF_ERROR(lmdb_status(mdb_stat(begun->get(), dbs_->ids, &st), "mdb_stat ids"));
  id_filters_->start(st.ms_entries);
  return {};
}

void Store::wait_id_filter_built() { id_filters_->wait_built(); }

Status Store::open_env(const StoreOptions& options) {
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_create(&env_), "mdb_env_create"));
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_set_maxdbs(env_, 8), "mdb_env_set_maxdbs"));
  ES_RETURN_IF_ERROR(
      lmdb_status(mdb_env_set_maxreaders(env_, options.max_readers), "mdb_env_set_maxreaders"));
  ES_RETURN_IF_ERROR(
      lmdb_status(mdb_env_set_mapsize(env_, options.initial_map_size), "mdb_env_set_mapsize"));
  ES_RETURN_IF_ERROR(
      lmdb_status(mdb_env_open(env_, dir_.c_str(), MDB_NOTLS, 0600), "mdb_env_open " + dir_));
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
  store::Cursor cur;
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
  if (rc == 0 && next.size() == 8) applier_->next_stream_id = get_le64(next.data());
  return {};
}

// Opens the journal, or makes one (a store written before the journal
// existed gets an empty one). A new journal's default size fits small disks.
Status Store::open_journal(const StoreOptions& options) {
  const std::string path = dir_ + "/journal";
  std::uint64_t size = options.journal_size;
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (size != 0 && size < store::Journal::kMinSize) {
    return Status::invalid("the journal size is at least " +
                           std::to_string(store::Journal::kMinSize >> 10) + " KiB");
  }
  if (!exists && size == 0) {
    size = store::Journal::kDefaultSize;
    struct statvfs vfs {};
    if (::statvfs(dir_.c_str(), &vfs) == 0) {
      const std::uint64_t sixteenth = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize / 16;
      size = std::clamp(sixteenth / store::Journal::kBlock * store::Journal::kBlock,
                        store::Journal::kMinSize, store::Journal::kDefaultSize);
    }
  }
  auto j = store::Journal::open(path, exists ? 0 : size);
  if (!j.ok()) return j.status();
  journal_ = std::move(j).value();
  if (size != 0 && size / store::Journal::kBlock * store::Journal::kBlock != journal_->size())
    journal_resize_ = size;
  return {};
}

// Replays the journal's frames after LMDB's head into LMDB, then starts a
// new lap at the ring's start: what LMDB records as the next frame.
Status Store::recover() {
  store::JournalAt from;
  bool known = false;
  {
    auto txn = Txn::begin(env_, MDB_RDONLY);
    if (!txn.ok()) return txn.status();
    std::string_view v;
    int rc = txn->get(dbs_->meta, "journal", &v);
    if (rc == 0 && v.size() == 16) {
      from = store::JournalAt{get_le64(v.data()), get_le64(v.data() + 8)};
      known = true;
    } else if (rc != MDB_NOTFOUND) {
      return lmdb_status(rc, "mdb_get journal");
    }
  }
  std::vector<PendingFrame> frames;
  store::JournalAt end = from;
  if (known) {
    auto replayed = journal_->replay(from, head_ + 1, [&](const store::Journal::Frame& f) {
      PendingFrame p;
      p.first = f.first;
      p.count = f.count;
      p.frame.assign(store::Journal::kHeaderBytes, '\0');
      p.frame.append(f.payload);
      p.next = f.next;
      frames.push_back(std::move(p));
      return Status();
    });
    if (!replayed.ok()) return replayed.status();
    end = *replayed;
  }
  // One LMDB commit applies what was replayed (checking every chain) and
  // records where writing resumes: a new lap, so that no stale frame can be
  // read as one of its own.
  PendingFrame resume;
  resume.first = head_ + 1;
  resume.frame.assign(store::Journal::kHeaderBytes, '\0');
  resume.next = store::JournalAt{std::max(end.lap, from.lap) + 1, store::Journal::kRingStart};
  frames.push_back(std::move(resume));
  Position events = 0;
  for (const auto& f : frames) events += f.count;
  ES_RETURN_IF_ERROR(apply_frames(frames, true));
  const Position head = head_ + events;
  if (events > 0) {
    spdlog::info("store: recovered {} events from the journal (positions {}..{})", events,
                 head_.load() + 1, head);
  }
  ES_RETURN_IF_ERROR(load_state());  // the head, its chain and time, the stream count
  if (head_ != head) {
    return Status::corruption("recovery applied the journal up to " + std::to_string(head) +
                              " but the log ends at " + std::to_string(head_.load()));
  }
  if (journal_resize_ != 0) {
    ES_RETURN_IF_ERROR(journal_->remake(journal_resize_));
    spdlog::info("store: journal remade at {} bytes", journal_->size());
  }
  journal_->start(frames.back().next.lap);
  return {};
}

Status Store::failure() const {
  if (!applier_->failed.load(std::memory_order_acquire)) return {};
  std::lock_guard lock(applier_->mu);
  return applier_->failure;
}

std::uint64_t Store::journal_size() const { return journal_->size(); }

std::size_t Store::max_group_bytes() const { return journal_->max_payload(); }

namespace {
template <class Event>
std::size_t event_frame_bytes(const Event& e) {
  return e.data.size() + e.metadata.size() + e.stream.size() + e.type.size() + 96;
}
}  // namespace

std::size_t Store::frame_bytes(const AppendRequest& request) {
  std::size_t bytes = 0;
  for (const auto& e : request.events) bytes += event_frame_bytes(e);
  return bytes;
}

std::size_t Store::frame_bytes(const RecordedEvent& event) { return event_frame_bytes(event); }

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

Status Store::validate(const AppendRequest& request) {
  if (request.events.empty() && request.expectations.empty()) {
    return Status::invalid("an append needs at least one event");
  }
  if (request.events.size() > kMaxAppendEvents) {
    return Status::invalid("an append holds at most " + std::to_string(kMaxAppendEvents) +
                           " events, not " + std::to_string(request.events.size()));
  }
  std::size_t bytes = 0;
  for (const auto& e : request.events) {
    ES_RETURN_IF_ERROR(validate_name("stream name", e.stream));
    ES_RETURN_IF_ERROR(validate_name("event type", e.type));
    if (e.id.is_nil()) return Status::invalid("event id must not be the nil UUID");
    if (e.data.empty()) return Status::invalid("event data must be a JSON value");
    if (e.data.size() > kMaxDataBytes) {
      return Status::invalid("event data is " + std::to_string(e.data.size()) +
                             " bytes; the limit is " + std::to_string(kMaxDataBytes));
    }
    if (e.metadata.size() > kMaxMetadataBytes) {
      return Status::invalid("event metadata is " + std::to_string(e.metadata.size()) +
                             " bytes; the limit is " + std::to_string(kMaxMetadataBytes));
    }
    if (is_metadata_stream(e.stream)) {
      auto rules = rules_of(e.type, e.data);
      if (!rules.ok())
        return Status::invalid("stream " + e.stream + ": " + rules.status().message());
      if (is_metadata_stream(target_of(e.stream)))
        return Status::invalid("stream " + e.stream + ": a metadata stream has no metadata stream");
    }
    bytes += e.stream.size() + e.type.size() + e.data.size() + e.metadata.size() + 64;
  }
  if (bytes > kMaxAppendBytes) {
    return Status::invalid("an append holds at most " + std::to_string(kMaxAppendBytes >> 20) +
                           " MiB");
  }
  if (request.events.size() > 1) {  // one sorted copy of the ids, not a set's node per id
    std::vector<std::string_view> ids;
    ids.reserve(request.events.size());
    for (const auto& e : request.events) ids.push_back(id_key(e.id));
    std::sort(ids.begin(), ids.end());
    if (auto twice = std::adjacent_find(ids.begin(), ids.end()); twice != ids.end()) {
      Uuid id;
      std::memcpy(id.bytes.data(), twice->data(), id.bytes.size());
      return Status::invalid("event id " + id.to_string() + " appears twice in one append");
    }
  }
  for (const auto& x : request.expectations)  // of a stream that may be older than today's rules
    ES_RETURN_IF_ERROR(validate_stored_name("stream name", x.stream));
  return {};
}

Status Store::validate(const Checkpoint& checkpoint) {
  return validate_name("subscription name", checkpoint.name);
}

}  // namespace es

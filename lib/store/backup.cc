#include "store/backup.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "es/digest.h"
#include "es/projection_store.h"
#include "es/store.h"

#include "store/private_files.h"
#include "store/store_internal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace es::store {

namespace {

namespace fs = std::filesystem;

constexpr const char* kProjectionsDir = "projections";

Status errno_status(const std::string& what) {
  return Status::io_error(what + ": " + std::strerror(errno));
}

Status make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return errno_status("cannot create " + dir);
  if (::chmod(dir.c_str(), 0700) != 0) return errno_status("cannot chmod " + dir);  // the umask's
  return {};
}

Status sync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open " + path);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return rc == 0 ? Status() : errno_status("cannot sync " + path);
}

// Makes `path` (0600, new), lets `copy` write it, syncs it; returns its size.
Result<std::uint64_t> write_file(const std::string& path, const std::function<Status(int)>& copy) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot create " + path);
  Status s = copy(fd);
  if (s.ok() && ::fdatasync(fd) != 0) s = errno_status("cannot sync " + path);
  struct stat st {};
  if (s.ok() && ::fstat(fd, &st) != 0) s = errno_status("cannot stat " + path);
  if (::close(fd) != 0 && s.ok()) s = errno_status("cannot close " + path);
  if (!s.ok()) return s;
  return static_cast<std::uint64_t>(st.st_size);
}

// An LMDB environment opened read-only, without a lock file: a copy that no
// process writes. Closed with its owner.
struct EnvCloser {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};
using EnvPtr = std::unique_ptr<MDB_env, EnvCloser>;

Result<EnvPtr> open_read_only(const std::string& dir) {
  MDB_env* raw = nullptr;
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_create(&raw), "mdb_env_create"));
  EnvPtr env(raw);
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_set_maxdbs(raw, 8), "mdb_env_set_maxdbs"));
  ES_RETURN_IF_ERROR(
      lmdb_status(mdb_env_open(raw, dir.c_str(), MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0600),
                  "mdb_env_open " + dir));
  return env;
}

// Opens a named database of `txn`; kCorruption when the copy lacks it.
Result<MDB_dbi> open_dbi(const Txn& txn, const char* name, const std::string& dir) {
  MDB_dbi dbi = 0;
  const int rc = mdb_dbi_open(txn.get(), name, 0, &dbi);
  if (rc == MDB_NOTFOUND)
    return Status::corruption(dir + " holds no '" + name + "' database: it is not a store");
  ES_RETURN_IF_ERROR(lmdb_status(rc, std::string("mdb_dbi_open ") + name));
  return dbi;
}

Status check_log(const std::string& dir, CopyCheck* out) {
  if (!fs::exists(dir + "/data.mdb"))
    return Status::not_found("no store in " + dir + " (no data.mdb)");
  auto env = open_read_only(dir);
  if (!env.ok()) return env.status();
  auto txn = Txn::begin(env->get(), MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  auto meta = open_dbi(*txn, "meta", dir);
  if (!meta.ok()) return meta.status();
  std::string_view format;
  const int rc = txn->get(*meta, "format", &format);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_get format");
  std::uint32_t version = 0;
  if (rc == 0 && format.size() == 4) std::memcpy(&version, format.data(), 4);
  if (version != Store::kFormatVersion) {
    return Status::corruption(dir + " has store format " + std::to_string(version) +
                              "; this es reads format " + std::to_string(Store::kFormatVersion));
  }
  auto log = open_dbi(*txn, "log", dir);
  if (!log.ok()) return log.status();
  ChainVerifier verifier;
  ES_RETURN_IF_ERROR(verify_log(*txn, *log, 0, &verifier));
  out->head = verifier.head();
  out->chain = verifier.chain();
  out->events = verifier.head();
  out->holes = verifier.holes();
  return {};
}

// The projections' "checkpoints" database (es/projection_store.h):
// name \0 generation:u32be -> position:u64le.
Status check_projections(const std::string& dir, ProjectionsRead read, CopyCheck* out) {
  if (!fs::exists(dir + "/data.mdb")) return {};  // a node that never hosted one
  auto env = open_read_only(dir);
  if (!env.ok()) return env.status();
  auto txn = Txn::begin(env->get(), MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn->get(), "checkpoints", 0, &dbi);
  if (rc == MDB_NOTFOUND) return {};
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_dbi_open checkpoints"));
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(*txn, dbi));
  MDB_val k{}, v{};
  for (rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    const std::string_view key = to_view(k);
    const std::string name(key.substr(0, key.find('\0')));
    if (v.mv_size != 8)
      return Status::corruption("the checkpoint of projection '" + name + "' is malformed");
    const Position p = get_le64(static_cast<const char*>(v.mv_data));
    if (read == ProjectionsRead::kThisLog && p > out->head) {
      return Status::corruption("projection '" + name + "' has its checkpoint at " +
                                std::to_string(p) + ", past the log's head " +
                                std::to_string(out->head) + " in " + dir);
    }
    ++out->checkpoints;
    out->max_checkpoint = std::max(out->max_checkpoint, p);
  }
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get checkpoints");
  return {};
}

Result<BackupReport> copy_stores(Store& store, const ProjectionStore& projections,
                                 const std::string& dir, const BackupOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  BackupReport r;
  r.dir = dir;
  r.acknowledged = store.head();
  const std::string pdir = dir + "/" + kProjectionsDir;
  ES_RETURN_IF_ERROR(make_dir(pdir));
  // The projections first: their checkpoints are at most the log's durable
  // head now, which the log's copy below holds (see the header).
  auto pbytes = write_file(pdir + "/data.mdb", [&](int fd) { return projections.copy_to(fd); });
  if (!pbytes.ok()) return pbytes.status();
  r.projection_bytes = *pbytes;
  if (options.pause.count() > 0) std::this_thread::sleep_for(options.pause);
  auto lbytes = write_file(dir + "/data.mdb", [&](int fd) { return store.copy_to(fd); });
  if (!lbytes.ok()) return lbytes.status();
  r.log_bytes = *lbytes;
  ES_RETURN_IF_ERROR(sync_path(pdir));
  ES_RETURN_IF_ERROR(sync_path(dir));
  auto checked = check_copy(dir, options.projections);
  if (!checked.ok()) {
    return Status(checked.status().code(),
                  "the copy failed its check: " + checked.status().message());
  }
  r.copy = *checked;
  if (r.copy.head < r.acknowledged) {  // Store::copy_to's promise broken: a bug
    return Status::corruption("the copy ends at " + std::to_string(r.copy.head) +
                              ", before the head " + std::to_string(r.acknowledged) +
                              " acknowledged when the backup began");
  }
  r.took = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                 started);
  return r;
}

// Copies the file `from` into `to` (new, 0600) and syncs it.
Status copy_file(const std::string& from, const std::string& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno_status("cannot open " + from);
  auto copied = write_file(to, [&](int out) -> Status {
    std::string buf(1u << 20, '\0');
    for (;;) {
      const ssize_t n = ::read(in, buf.data(), buf.size());
      if (n == 0) return {};
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status("cannot read " + from);
      }
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::write(out, buf.data() + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno_status("cannot write " + to);
        done += w;
      }
    }
  });
  ::close(in);
  return copied.status();
}

// Takes `dir`/esd.lock as esd does (flock, exclusive, without waiting);
// returns its descriptor, which holds the lock until closed.
Result<int> lock_data_dir(const std::string& dir) {
  const std::string path = dir + "/esd.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return errno_status("cannot open " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK) {
      return Status(Code::kBusy, "data directory " + dir + " is in use by a running esd (" + path +
                                     " is locked): stop it first");
    }
    errno = saved;
    return errno_status("cannot lock " + path);
  }
  return fd;
}

// Whether a running esd holds `dir` (its esd.lock, when there is one).
Status check_not_in_use(const std::string& dir) {
  if (!fs::exists(dir + "/esd.lock")) return {};
  auto fd = lock_data_dir(dir);
  if (!fd.ok()) return fd.status();
  ::close(*fd);
  return {};
}

Status copy_backup(const std::string& backup, const std::string& data) {
  auto lock = lock_data_dir(data);
  if (!lock.ok()) return lock.status();
  Status s = copy_file(backup + "/data.mdb", data + "/data.mdb");
  const std::string from = backup + "/" + kProjectionsDir, to = data + "/" + kProjectionsDir;
  if (s.ok() && fs::exists(from + "/data.mdb")) {
    s = make_dir(to);
    if (s.ok()) s = copy_file(from + "/data.mdb", to + "/data.mdb");
    if (s.ok()) s = sync_path(to);
  }
  if (s.ok()) s = sync_path(data);
  ::close(*lock);
  return s;
}

}  // namespace

Status prepare_backup_dir(const std::string& dir) {
  const fs::path path(dir);
  if (!path.is_absolute())
    return Status::invalid("the backup directory must be an absolute path, not '" + dir + "'");
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (fs::exists(st)) {
    if (!fs::is_directory(st)) return Status::invalid(dir + " exists and is not a directory");
    if (!fs::is_empty(path, ec) || ec) {
      return Status::invalid(dir +
                             " exists and is not empty: a backup goes into a new or empty "
                             "directory");
    }
  } else {
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return Status::io_error("cannot create " + path.parent_path().string() + ": " + ec.message());
  }
  return make_dir(dir);
}

Result<BackupReport> backup(Store& store, const ProjectionStore& projections,
                            const std::string& dir, const BackupOptions& options) {
  std::error_code ec, ec_data;
  const std::string data = fs::weakly_canonical(store.dir(), ec_data).string();
  const std::string target = fs::weakly_canonical(dir, ec).string();
  if (!ec && !ec_data && !data.empty() && (target == data || target.rfind(data + "/", 0) == 0)) {
    return Status::invalid("the backup directory " + dir + " is inside the node's data directory " +
                           store.dir() + ": choose one outside it");
  }
  ES_RETURN_IF_ERROR(prepare_backup_dir(dir));
  auto r = copy_stores(store, projections, dir, options);
  if (!r.ok()) {
    // What this made goes (the directory was new or empty).
    ec.clear();
    for (const auto& entry : fs::directory_iterator(dir, ec)) fs::remove_all(entry.path(), ec);
  }
  return r;
}

Result<CopyCheck> restore_backup(const std::string& backup, const std::string& data) {
  auto checked = check_copy(backup, ProjectionsRead::kAnotherLog);
  if (!checked.ok()) return checked.status();
  std::error_code ec;
  const bool existed = fs::exists(data, ec);
  if (existed) {
    if (!fs::is_directory(data, ec))
      return Status::invalid(data + " exists and is not a directory");
    ES_RETURN_IF_ERROR(check_not_in_use(data));
    if (!fs::is_empty(data, ec) || ec) {
      return Status::invalid(data +
                             " exists and is not empty: restore into a new or empty directory "
                             "(move the old data directory aside first)");
    }
  }
  ES_RETURN_IF_ERROR(prepare_private_dir(data));
  if (Status s = copy_backup(backup, data); !s.ok()) {
    for (const auto& entry : fs::directory_iterator(data, ec)) fs::remove_all(entry.path(), ec);
    if (!existed) fs::remove(data, ec);
    return s;
  }
  return checked;
}

Result<CopyCheck> check_copy(const std::string& dir, ProjectionsRead projections) {
  CopyCheck out;
  ES_RETURN_IF_ERROR(check_log(dir, &out));
  ES_RETURN_IF_ERROR(check_projections(dir + "/" + kProjectionsDir, projections, &out));
  return out;
}

}  // namespace es::store

namespace es::store {

namespace {

std::uint64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto n = fs::file_size(path, ec);
  return ec ? 0 : static_cast<std::uint64_t>(n);
}

// Overwrites the whole file with zeros and syncs it.
Result<std::uint64_t> zero_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) return std::uint64_t{0};
  if (fd < 0) return errno_status("cannot open " + path);
  struct stat st {};
  Status s;
  if (::fstat(fd, &st) != 0) s = errno_status("cannot stat " + path);
  const std::string zeros(1u << 20, '\0');
  std::uint64_t done = 0;
  const auto size = static_cast<std::uint64_t>(st.st_size);
  while (s.ok() && done < size) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), size - done));
    const ssize_t w = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(done));
    if (w <= 0) s = errno_status("cannot overwrite " + path);
    done += w > 0 ? static_cast<std::uint64_t>(w) : 0;
  }
  if (s.ok() && ::fdatasync(fd) != 0) s = errno_status("cannot sync " + path);
  ::close(fd);
  if (!s.ok()) return s;
  return done;
}

}  // namespace

Result<CompactReport> compact(const std::string& dir) {
  if (!fs::exists(dir + "/data.mdb"))
    return Status::not_found("no store in " + dir + " (no data.mdb)");
  CompactReport r;
  const std::string log_copy = dir + "/data.mdb.compact";
  const std::string pdir = dir + "/" + kProjectionsDir;
  const std::string projections_copy = pdir + "/data.mdb.compact";
  ::unlink(log_copy.c_str());  // of an interrupted compact
  ::unlink(projections_copy.c_str());
  {
    // Opening the store takes its lock (a running node has it: kBusy) and
    // brings LMDB up to date with the journal.
    auto store = Store::open(dir, StoreOptions{});
    if (!store.ok()) return store.status();
    ES_RETURN_IF_ERROR((*store)->wait_applied());
    r.log_before = file_size(dir + "/data.mdb");
    auto written = write_file(log_copy, [&](int fd) { return (*store)->copy_to(fd); });
    if (!written.ok()) return written.status();
    r.log_after = *written;
    if (fs::exists(pdir + "/data.mdb")) {
      auto projections = ProjectionStore::open(pdir);
      if (!projections.ok()) return projections.status();
      r.projections_before = file_size(pdir + "/data.mdb");
      auto pwritten =
          write_file(projections_copy, [&](int fd) { return (*projections)->copy_to(fd); });
      if (!pwritten.ok()) return pwritten.status();
      r.projections_after = *pwritten;
    }
  }
  // The store is closed: its lock is taken again for the swap.
  const std::string lock_path = dir + "/esd.lock";
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC);
  if (lock < 0) return errno_status("cannot open " + lock_path);
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{lock};
  if (::flock(lock, LOCK_EX | LOCK_NB) != 0)
    return Status(Code::kBusy, "data directory " + dir + " was taken by another process");
  if (fs::exists(projections_copy)) {
    if (::rename(projections_copy.c_str(), (pdir + "/data.mdb").c_str()) != 0)
      return errno_status("cannot replace " + pdir + "/data.mdb");
    ES_RETURN_IF_ERROR(sync_path(pdir));
  }
  if (::rename(log_copy.c_str(), (dir + "/data.mdb").c_str()) != 0)
    return errno_status("cannot replace " + dir + "/data.mdb");
  ES_RETURN_IF_ERROR(sync_path(dir));
  auto zeroed = zero_file(dir + "/journal");
  if (!zeroed.ok()) return zeroed.status();
  r.journal_zeroed = *zeroed;
  if (::unlink((dir + "/journal").c_str()) != 0 && errno != ENOENT)
    return errno_status("cannot remove " + dir + "/journal");
  ES_RETURN_IF_ERROR(sync_path(dir));
  return r;
}

}  // namespace es::store

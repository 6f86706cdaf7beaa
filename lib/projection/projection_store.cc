#include "es/projection_store.h"

#include "protocol/wire_archive.h"
#include "store/lmdb.h"
#include "store/private_files.h"

#include <sys/stat.h>

namespace es {

using store::Cursor;
using store::lmdb_status;
using store::to_val;
using store::to_view;
using store::Txn;

namespace {

constexpr std::size_t kMapBytes = std::size_t{1} << 36;  // address space, not disk

std::string prefix_of(std::string_view name, std::uint32_t generation) {
  std::string out(name);
  out += '\0';
  char g[4] = {static_cast<char>(generation >> 24), static_cast<char>(generation >> 16),
               static_cast<char>(generation >> 8), static_cast<char>(generation)};
  out.append(g, 4);
  return out;
}

std::string encode_def(const ProjectionDef& def) {
  std::string out;
  wire::OutputArchive ar(out);
  ar(const_cast<ProjectionDef&>(def));
  return out;
}

Result<ProjectionDef> decode_def(std::string_view bytes) {
  ProjectionDef def;
  try {
    wire::InputArchive ar(bytes);
    ar(def);
  } catch (const std::exception& e) {
    return Status::corruption(std::string("a stored projection definition is malformed: ") +
                              e.what());
  }
  return def;
}

// Each of these reads inside a transaction the caller holds, so that a view
// reads a definition and its states in one snapshot.
Result<std::optional<ProjectionDef>> read_def(const Txn& txn, MDB_dbi defs, std::string_view name) {
  std::string_view v;
  int rc = txn.get(defs, name, &v);
  if (rc == MDB_NOTFOUND) return std::optional<ProjectionDef>();
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get defs"));
  auto def = decode_def(v);
  if (!def.ok()) return def.status();
  return std::optional<ProjectionDef>(std::move(def).value());
}

Result<Position> read_checkpoint(const Txn& txn, MDB_dbi checkpoints, const std::string& prefix) {
  std::string_view v;
  int rc = txn.get(checkpoints, prefix, &v);
  if (rc == MDB_NOTFOUND) return Position{0};
  ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get checkpoints"));
  if (v.size() != 8) return Status::corruption("a projection checkpoint is malformed");
  return store::get_le64(v.data());
}

// Appends to `out` the partitions under `prefix` after `after`, up to `limit` in all.
Status read_states(const Txn& txn, MDB_dbi states, const std::string& prefix,
                   std::string_view after, std::size_t limit, std::vector<PartitionState>* out) {
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(txn, states));
  std::string start = prefix + std::string(after);
  MDB_val k = to_val(start), v{};
  int rc = cur.get(&k, &v, MDB_SET_RANGE);
  for (; rc == 0 && out->size() < limit; rc = cur.get(&k, &v, MDB_NEXT)) {
    std::string_view key = to_view(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    std::string_view partition = key.substr(prefix.size());
    if (!after.empty() && partition == after) continue;
    out->emplace_back(std::string(partition), std::string(to_view(v)));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get states");
  return {};
}

}  // namespace

ProjectionStore::~ProjectionStore() {
  if (env_ != nullptr) mdb_env_close(env_);
}

Result<std::unique_ptr<ProjectionStore>> ProjectionStore::open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return lmdb_status(errno, "mkdir " + dir);
  for (const std::string& path : {dir, dir + "/data.mdb", dir + "/lock.mdb"})
    ES_RETURN_IF_ERROR(store::make_private(path));
  std::unique_ptr<ProjectionStore> s(new ProjectionStore());
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_create(&s->env_), "mdb_env_create"));
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_set_maxdbs(s->env_, 4), "mdb_env_set_maxdbs"));
  ES_RETURN_IF_ERROR(lmdb_status(mdb_env_set_mapsize(s->env_, kMapBytes), "mdb_env_set_mapsize"));
  ES_RETURN_IF_ERROR(lmdb_status(
      mdb_env_open(s->env_, dir.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0600), "mdb_env_open " + dir));
  auto txn = Txn::begin(s->env_, 0);
  if (!txn.ok()) return txn.status();
  struct Named {
    const char* name;
    unsigned* dbi;
  } named[] = {{"defs", &s->defs_}, {"states", &s->states_}, {"checkpoints", &s->checkpoints_}};
  for (auto& n : named) {
    ES_RETURN_IF_ERROR(lmdb_status(mdb_dbi_open(txn->get(), n.name, MDB_CREATE, n.dbi),
                                   std::string("mdb_dbi_open ") + n.name));
  }
  ES_RETURN_IF_ERROR(txn->commit());
  return s;
}

Status ProjectionStore::put(const ProjectionDef& def) {
  auto txn = Txn::begin(env_, 0);
  if (!txn.ok()) return txn.status();
  ES_RETURN_IF_ERROR(lmdb_status(txn->put(defs_, def.name, encode_def(def)), "mdb_put defs"));
  return txn->commit();
}

Result<std::optional<ProjectionDef>> ProjectionStore::get(std::string_view name) const {
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  return read_def(*txn, defs_, name);
}

Result<std::vector<ProjectionDef>> ProjectionStore::list() const {
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(*txn, defs_));
  std::vector<ProjectionDef> out;
  MDB_val k{}, v{};
  int rc = cur.get(&k, &v, MDB_FIRST);
  for (; rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    auto def = decode_def(to_view(v));
    if (!def.ok()) return def.status();
    out.push_back(std::move(def).value());
  }
  if (rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get defs");
  return out;
}

Status ProjectionStore::drop_prefix(void* txn_ptr, std::string_view prefix) {
  auto* txn = static_cast<MDB_txn*>(txn_ptr);
  for (unsigned dbi : {states_, checkpoints_}) {
    MDB_cursor* raw = nullptr;
    ES_RETURN_IF_ERROR(lmdb_status(mdb_cursor_open(txn, dbi, &raw), "mdb_cursor_open"));
    std::unique_ptr<MDB_cursor, decltype(&mdb_cursor_close)> cur(raw, &mdb_cursor_close);
    MDB_val k = to_val(prefix), v{};
    int rc = mdb_cursor_get(cur.get(), &k, &v, MDB_SET_RANGE);
    while (rc == 0 && to_view(k).substr(0, prefix.size()) == prefix) {
      ES_RETURN_IF_ERROR(lmdb_status(mdb_cursor_del(cur.get(), 0), "mdb_cursor_del"));
      rc = mdb_cursor_get(cur.get(), &k, &v, MDB_GET_CURRENT);
      if (rc == EINVAL) rc = mdb_cursor_get(cur.get(), &k, &v, MDB_NEXT);  // deleted the last
    }
    if (rc != 0 && rc != MDB_NOTFOUND && rc != EINVAL)
      return lmdb_status(rc, "mdb_cursor_get (drop)");
  }
  return {};
}

Status ProjectionStore::remove(std::string_view name) {
  auto txn = Txn::begin(env_, 0);
  if (!txn.ok()) return txn.status();
  std::string prefix(name);
  prefix += '\0';
  ES_RETURN_IF_ERROR(drop_prefix(txn->get(), prefix));
  MDB_val k = to_val(name);
  int rc = mdb_del(txn->get(), defs_, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_del defs");
  return txn->commit();
}

Status ProjectionStore::drop_generation(std::string_view name, std::uint32_t generation) {
  auto txn = Txn::begin(env_, 0);
  if (!txn.ok()) return txn.status();
  ES_RETURN_IF_ERROR(drop_prefix(txn->get(), prefix_of(name, generation)));
  return txn->commit();
}

Status ProjectionStore::commit(std::string_view name, std::uint32_t generation,
                               const std::vector<PartitionState>& states, Position checkpoint) {
  auto txn = Txn::begin(env_, 0);
  if (!txn.ok()) return txn.status();
  const std::string prefix = prefix_of(name, generation);
  std::string key;
  for (const auto& [partition, json] : states) {
    key = prefix;
    key += partition;
    ES_RETURN_IF_ERROR(lmdb_status(txn->put(states_, key, json), "mdb_put states"));
  }
  char pos[8];
  store::put_le64(pos, checkpoint);
  ES_RETURN_IF_ERROR(
      lmdb_status(txn->put(checkpoints_, prefix, std::string_view(pos, 8)), "mdb_put checkpoints"));
  return txn->commit();
}

Result<Position> ProjectionStore::checkpoint(std::string_view name,
                                             std::uint32_t generation) const {
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  return read_checkpoint(*txn, checkpoints_, prefix_of(name, generation));
}

Result<std::vector<PartitionState>> ProjectionStore::states(std::string_view name,
                                                            std::uint32_t generation,
                                                            std::string_view after,
                                                            std::size_t limit) const {
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  std::vector<PartitionState> out;
  ES_RETURN_IF_ERROR(read_states(*txn, states_, prefix_of(name, generation), after, limit, &out));
  return out;
}

Result<std::optional<ProjectionStore::View>> ProjectionStore::view(std::string_view name,
                                                                   const std::string* key,
                                                                   std::string_view after,
                                                                   std::size_t limit) const {
  auto txn = Txn::begin(env_, MDB_RDONLY);
  if (!txn.ok()) return txn.status();
  auto def = read_def(*txn, defs_, name);
  if (!def.ok()) return def.status();
  if (!def->has_value()) return std::optional<View>();
  View out;
  out.def = std::move(**def);
  const std::string prefix = prefix_of(name, out.def.generation);
  auto checkpoint = read_checkpoint(*txn, checkpoints_, prefix);
  if (!checkpoint.ok()) return checkpoint.status();
  out.checkpoint = *checkpoint;
  if (key != nullptr) {
    std::string_view v;
    int rc = txn->get(states_, prefix + *key, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_get states");
    if (rc == 0) out.states.emplace_back(*key, std::string(v));
  } else {
    ES_RETURN_IF_ERROR(read_states(*txn, states_, prefix, after, limit, &out.states));
  }
  return std::optional<View>(std::move(out));
}

Status ProjectionStore::copy_to(int fd) const {
  return lmdb_status(mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT), "mdb_env_copyfd2");
}

}  // namespace es

// Deletion and retention (es/stream_rules.h): the rules the writer commits,
// what reads and the writer look up, and the applier's removal of what they
// hide.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "es/json.h"

#include "store/codec.h"
#include "store/store_internal.h"

namespace es {

using store::Cursor;
using store::get_le64;
using store::id_key;
using store::index_key;
using store::kMaxRemovals;
using store::lmdb_status;
using store::pos_key;
using store::to_val;
using store::to_view;
using store::Txn;

std::shared_ptr<const Store::RulesMap> Store::rules_snapshot() const {
  std::lock_guard lock(rules_mu_);
  return rules_;
}

StreamRules Store::rules(std::string_view stream) const {
  auto map = rules_snapshot();
  if (!map) return {};
  auto it = map->find(stream);
  return it == map->end() ? StreamRules{} : it->second->rules;
}

// After recovery, when LMDB holds everything: the last event of each
// metadata stream ("$$" sorts them together).
Status Store::load_rules() {
  auto begun = Txn::begin(env_, MDB_RDONLY);
  if (!begun.ok()) return begun.status();
  Txn txn = std::move(begun).value();
  Cursor cur;
  ES_RETURN_IF_ERROR(cur.open(txn, dbs_->streams));
  std::string start(kMetadataPrefix);
  MDB_val k = to_val(start), v{};
  auto map = std::make_shared<RulesMap>();
  int rc = cur.get(&k, &v, MDB_SET_RANGE);
  for (; rc == 0 && to_view(k).starts_with(kMetadataPrefix); rc = cur.get(&k, &v, MDB_NEXT)) {
    const std::string_view name = to_view(k);
    auto row = store::parse_stream_row(to_view(v), name);
    if (!row.ok()) return row.status();
    std::string_view iv;
    int irc = txn.get(dbs_->index, index_key(row->id, *row->last), &iv);
    if (irc != 0 || iv.size() != 8)
      return Status::corruption("metadata stream " + std::string(name) + " has no last event");
    auto raw = record_at(txn.get(), get_le64(iv.data()));
    if (!raw.ok()) return raw.status();
    RecordedEvent e;
    ES_RETURN_IF_ERROR(store::decode_record(*raw, &e));
    auto rules = rules_of(e);
    if (!rules.ok()) {
      return Status::corruption("metadata stream " + std::string(name) + ": " +
                                rules.status().message());
    }
    if (rules->empty()) continue;
    auto entry = std::make_shared<RuleEntry>();
    entry->rules = *rules;
    const std::string target(target_of(name));
    std::string_view tv;
    if (txn.get(dbs_->streams, target, &tv) == 0) {
      auto trow = store::parse_stream_row(tv, target);
      if (!trow.ok()) return trow.status();
      entry->last_plus_one = *trow->last + 1;
    }
    map->emplace(target, std::move(entry));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_status(rc, "mdb_cursor_get streams");
  std::lock_guard lock(rules_mu_);
  if (!map->empty()) rules_ = std::move(map);
  return {};
}

// A request's events against the rules as this group leaves them: none may
// go to a tombstoned stream, and a metadata event may not change a
// tombstone. `sets` gets the rules the request's metadata events set.
Status Store::check_rules(Group& g, const AppendRequest& request,
                          std::unordered_map<std::string, StreamRules>* sets) {
  sets->clear();
  if (!g.rules_before && g.rules.empty()) {
    bool any = false;
    for (const auto& e : request.events) any = any || is_metadata_stream(e.stream);
    if (!any) return {};
  }
  auto current = [&](const std::string& stream) -> StreamRules {
    if (auto it = sets->find(stream); it != sets->end()) return it->second;
    if (auto it = g.rules.find(stream); it != g.rules.end()) return it->second;
    if (g.rules_before) {
      if (auto it = g.rules_before->find(stream); it != g.rules_before->end())
        return it->second->rules;
    }
    return {};
  };
  for (const auto& e : request.events) {
    const bool meta = is_metadata_stream(e.stream);
    const std::string target = meta ? std::string(target_of(e.stream)) : e.stream;
    if (current(target).tombstone) {
      return Status(Code::kStreamDeleted,
                    "stream " + target + " was deleted for good (es delete --hard): " +
                        (meta ? "its rules cannot change" : "it is never written again"));
    }
    if (meta) {
      auto rules = rules_of(e.type, e.data);
      if (!rules.ok()) return rules.status();  // validate() has checked it already
      (*sets)[target] = *rules;
      auto row = row_of(g, target);  // publish_rules takes its last version from g.rows
      if (!row.ok()) return row.status();
    }
  }
  return {};
}

// After the group's frame is durable: readers and the applier see the rules
// it set, and the last version of every stream it wrote that has rules.
void Store::publish_rules(Group& g) {
  std::shared_ptr<const RulesMap> map = g.rules_before;
  if (!g.rules.empty()) {
    auto next = map ? std::make_shared<RulesMap>(*map) : std::make_shared<RulesMap>();
    for (const auto& [stream, rules] : g.rules) {
      if (rules.empty()) {
        next->erase(stream);
        continue;
      }
      auto entry = std::make_shared<RuleEntry>();
      entry->rules = rules;
      auto row = g.rows.find(stream);
      if (row != g.rows.end() && row->second.last) {
        entry->last_plus_one = *row->second.last + 1;
      }
      (*next)[stream] = std::move(entry);
    }
    map = next->empty() ? nullptr : std::shared_ptr<const RulesMap>(std::move(next));
    std::lock_guard lock(rules_mu_);
    rules_ = map;
  }
  if (!map) return;
  for (const auto& [stream, row] : g.rows) {
    if (!row.last) continue;
    if (auto it = map->find(stream); it != map->end())
      it->second->last_plus_one.store(*row.last + 1, std::memory_order_release);
  }
}

// Removes, from each stream of `streams` that has rules, the events they
// hide: its index and id entries go, its log record becomes a hole. Stops
// after kMaxRemovals (a sweep goes on with the rest).
Status Store::remove_hidden(Txn& txn, RowCache& cache, const std::vector<std::string>* streams,
                            std::uint64_t* removed, bool* map_full) {
  auto map = rules_snapshot();
  if (!map) return {};
  auto status = [map_full](int rc, const char* what) {
    if (rc == MDB_MAP_FULL) *map_full = true;
    return lmdb_status(rc, what);
  };
  const std::int64_t now = now_us();
  std::vector<std::string> all;
  if (streams == nullptr) {
    for (const auto& [name, entry] : *map) all.push_back(name);
    streams = &all;
  }
  std::string hole;
  std::vector<std::pair<std::string, std::string>> holes;  // log key, hole record
  for (const std::string& name : *streams) {
    auto rit = map->find(name);
    if (rit == map->end()) continue;
    const StreamRules& rules = rit->second->rules;
    auto cit = cache.rows.find(name);
    if (cit == cache.rows.end()) {
      std::string_view v;
      int rc = txn.get(dbs_->streams, name, &v);
      if (rc == MDB_NOTFOUND) continue;
      ES_RETURN_IF_ERROR(lmdb_status(rc, "mdb_get streams"));
      auto row = store::parse_stream_row(v, name);
      if (!row.ok()) return row.status();
      cit = cache.rows.emplace(name, *row).first;
    }
    store::StreamRow& row = cit->second;
    const Version last = *row.last;
    const Version cut = rules.tombstone ? last + 1 : std::min(rules.visible_from(last), last + 1);
    const std::int64_t expired = rules.expired_before_us(now);
    Version v = row.first_indexed;
    for (; v <= last && *removed < kMaxRemovals; ++v) {
      if (v >= cut && expired == 0) break;
      const std::string ik = index_key(row.id, v);
      std::string_view iv;
      int rc = txn.get(dbs_->index, ik, &iv);
      if (rc != 0 || iv.size() != 8) {
        return Status::corruption("stream " + name + " has no index entry for version " +
                                  std::to_string(v));
      }
      const Position p = get_le64(iv.data());
      auto raw = record_at(txn.get(), p);
      if (!raw.ok()) return raw.status();
      RecordedEvent e;
      ES_RETURN_IF_ERROR(store::decode_record(*raw, &e));
      if (v >= cut && e.time_us >= expired) break;
      ES_RETURN_IF_ERROR(status(txn.del(dbs_->index, ik), "mdb_del index"));
      if (!e.removed) {
        int irc = txn.del(dbs_->ids, id_key(e.id));
        if (irc != MDB_NOTFOUND) ES_RETURN_IF_ERROR(status(irc, "mdb_del ids"));
      }
      e.removed = true;
      store::encode_record(e, &hole);
      hole.append(reinterpret_cast<const char*>(e.chain.data()), e.chain.size());
      holes.emplace_back(pos_key(p), hole);
      ++*removed;
    }
    row.first_indexed = v;
  }
  // The records go first, then the holes come back: deleting lets LMDB
  // merge the pages removal empties (a put of a smaller value in place
  // would leave every page as full of room as before), so that the space
  // is reused; the holes then fill few pages.
  for (const auto& [key, value] : holes)
    ES_RETURN_IF_ERROR(status(txn.del(dbs_->log, key), "mdb_del log"));
  for (const auto& [key, value] : holes)
    ES_RETURN_IF_ERROR(status(txn.put(dbs_->log, key, value), "mdb_put log"));
  return {};
}

// One LMDB transaction that removes what the rules of every stream hide
// (rules by age hide more as time passes); committed only if it removed
// something.
Status Store::sweep(std::uint64_t* removed_out) {
  *removed_out = 0;
  for (;;) {
    bool map_full = false;
    std::uint64_t removed = 0;
    Status s;
    {
      auto begun = Txn::begin(env_, 0);
      if (!begun.ok()) return begun.status();
      Txn txn = std::move(begun).value();
      RowCache cache;
      s = remove_hidden(txn, cache, nullptr, &removed, &map_full);
      if (s.ok() && removed > 0) {
        for (const auto& [name, row] : cache.rows) {
          int rc = txn.put(dbs_->streams, name, store::stream_row_value(row));
          if (rc != 0) {
            map_full = rc == MDB_MAP_FULL;
            s = lmdb_status(rc, "mdb_put streams");
            break;
          }
        }
        if (s.ok()) {
          int rc = txn.commit_rc();
          map_full = rc == MDB_MAP_FULL;
          s = lmdb_status(rc, "mdb_txn_commit");
        }
      }
    }
    if (s.ok()) {
      *removed_out = removed;
      if (removed > 0) spdlog::debug("store: removed {} events that stream rules hide", removed);
      return {};
    }
    if (!map_full) return s;
    ES_RETURN_IF_ERROR(grow_map());
  }
}

}  // namespace es

namespace es {

Status Store::sweep_expired() {
  Applier& a = *applier_;
  std::unique_lock lock(a.mu);
  const std::uint64_t before = a.sweeps;
  a.sweep_wanted = true;
  a.wake.notify_one();
  while (a.sweeps == before) {
    if (a.failed) return a.failure;
    a.applied.wait_for(lock, std::chrono::milliseconds(100));
  }
  return {};
}

}  // namespace es

// es/projection_store.h
//
// A ProjectionStore keeps the projections a node hosts in their own LMDB
// environment (<data>/projections), apart from the log so that folding
// events never holds up appends:
//   "defs"        name                      -> ProjectionDef (wire encoding)
//   "states"      name \0 generation:u32be key -> the partition's state (JSON)
//   "checkpoints" name \0 generation:u32be     -> position:u64le
// A batch of changed partitions and the checkpoint they reach are written in
// one transaction: after any crash, the states are exactly those of the
// events up to the checkpoint. A generation is one build of a projection; a
// reset builds the next one beside it. Commits sync the data but not the
// meta page (MDB_NOMETASYNC): a power loss may undo the last batch, never
// split it, and the log can always rebuild it.
//
// Thread safety: safe to share; LMDB serializes the writers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "es/result.h"
#include "es/types.h"

struct MDB_env;

namespace es {

struct ProjectionDef {
  std::string name;
  std::string source;                 // the jq program
  std::string status = "running";     // running | stopped | failed
  std::string error;                  // failed: what went wrong
  Position error_position = 0;        // failed: the event it failed on
  std::uint32_t generation = 1;       // the build that answers queries
  std::uint32_t next_generation = 0;  // a reset's build in progress (0: none)
  std::string next_source;            // that build's program

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, source, status, error, error_position, generation, next_generation, next_source);
  }
};

using PartitionState = std::pair<std::string, std::string>;  // key, state JSON

class ProjectionStore {
 public:
  static Result<std::unique_ptr<ProjectionStore>> open(const std::string& dir);
  ~ProjectionStore();
  ProjectionStore(const ProjectionStore&) = delete;
  ProjectionStore& operator=(const ProjectionStore&) = delete;

  Status put(const ProjectionDef& def);
  Result<std::optional<ProjectionDef>> get(std::string_view name) const;
  Result<std::vector<ProjectionDef>> list() const;
  // Removes a projection's definition and every generation's data.
  Status remove(std::string_view name);
  // Removes one generation's states and checkpoint (an old build).
  Status drop_generation(std::string_view name, std::uint32_t generation);

  // Writes changed partitions and the checkpoint they reach, together.
  Status commit(std::string_view name, std::uint32_t generation,
                const std::vector<PartitionState>& states, Position checkpoint);
  Result<Position> checkpoint(std::string_view name, std::uint32_t generation) const;
  // Partitions in key order after `after` (empty: from the first), at most `limit`.
  Result<std::vector<PartitionState>> states(std::string_view name, std::uint32_t generation,
                                             std::string_view after, std::size_t limit) const;
  // What queries see: the generation that answers (read with the states, in
  // one snapshot, so a reset's swap is never seen half done).
  struct View {
    ProjectionDef def;
    Position checkpoint = 0;
    std::vector<PartitionState> states;
  };
  // One partition (`key`), or a page of them after `after`; nullopt when
  // there is no such projection.
  Result<std::optional<View>> view(std::string_view name, const std::string* key,
                                   std::string_view after, std::size_t limit) const;

  // Writes a compacted copy of the environment (as `mdb_copy -c`) to `fd`,
  // from one read snapshot: runners go on committing meanwhile. Does not
  // sync `fd`.
  Status copy_to(int fd) const;

 private:
  ProjectionStore() = default;
  Status drop_prefix(void* txn, std::string_view prefix);

  MDB_env* env_ = nullptr;
  unsigned defs_ = 0, states_ = 0, checkpoints_ = 0;
};

}  // namespace es

// store/tail.h (private)
//
// The tail: the events (and checkpoint moves) that are durable in the
// journal but not yet in LMDB, in memory, so that every reader sees one log:
// LMDB up to its head, the tail after it. An event enters the tail when its
// frame is durable, before it is acknowledged, and leaves it only after the
// LMDB commit that holds it has returned, so there is no moment at which a
// committed event is in neither.
//
// A reader holds read_lock() while it opens its LMDB snapshot and takes
// what it needs from the tail; the tail may overlap that snapshot (events
// committed to LMDB but not yet trimmed), never leave a hole before it.
//
// Thread safety: the writer calls append(), the applier trim(); both take
// the lock themselves. Every lookup is made under read_lock() (the writer's
// too, for as long as it checks a group).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "es/event.h"

namespace es::store {

class Tail {
 public:
  // A stream's events in the tail: versions first_version.., at `positions`.
  struct Stream {
    Version first_version = 0;
    std::deque<Position> positions;
    Version last_version() const { return first_version + positions.size() - 1; }
  };

  std::shared_lock<std::shared_mutex> read_lock() const {
    return std::shared_lock<std::shared_mutex>(mu_);
  }

  // Adds a durable frame's events (positions follow last()) and checkpoint
  // moves; `seq` is the frame's number.
  void append(const std::vector<RecordedEvent>& events, const std::vector<Checkpoint>& checkpoints,
              std::uint64_t seq);
  // Drops the events up to `position` and the checkpoint moves of frames up
  // to `seq`: LMDB holds them. In steps of a few hundred events, so that
  // readers and the writer never wait long; the events are freed outside
  // the lock.
  void trim(Position position, std::uint64_t seq);

  bool empty() const { return events_.empty(); }
  Position first() const { return first_; }  // of the first event held (when not empty)
  Position last() const { return first_ + events_.size() - 1; }
  const RecordedEvent* at(Position p) const {
    return events_.empty() || p < first_ || p > last() ? nullptr : &events_[p - first_];
  }
  const Stream* stream(std::string_view name) const;
  const std::map<std::string, Stream, std::less<>>& streams() const { return streams_; }
  std::optional<Position> id(const Uuid& id) const;
  // A checkpoint moved or removed by a frame not yet in LMDB.
  struct CheckpointMove {
    std::optional<Position> position;  // nullopt: removed
    std::uint64_t seq = 0;             // the frame's number
  };
  // Null when no frame in the tail moved or removed it.
  const CheckpointMove* checkpoint(std::string_view name) const;
  const std::map<std::string, CheckpointMove, std::less<>>& checkpoints() const {
    return checkpoints_;
  }

 private:
  mutable std::shared_mutex mu_;
  Position first_ = 1;
  std::deque<RecordedEvent> events_;
  std::map<std::string, Stream, std::less<>> streams_;
  // The ids of the events held, for idempotency checks on every append: an
  // open-addressing table of (hash, position), the id itself read from
  // events_ to confirm a match. One cache line per lookup where a node-based
  // map took three, and no allocation per event. A position is erased by
  // value (positions are unique), with backward-shift deletion.
  class IdTable {
   public:
    void insert(std::uint64_t hash, Position p);
    void erase(std::uint64_t hash, Position p);
    template <class Matches>  // Matches(Position) -> bool
    std::optional<Position> find(std::uint64_t hash, Matches matches) const {
      if (size_ == 0) return std::nullopt;
      for (std::size_t i = hash & mask(); slots_[i].position != 0; i = (i + 1) & mask())
        if (slots_[i].hash == hash && matches(slots_[i].position)) return slots_[i].position;
      return std::nullopt;
    }

   private:
    struct Slot {
      std::uint64_t hash = 0;
      Position position = 0;  // 0: empty (positions start at 1)
    };
    std::size_t mask() const { return slots_.size() - 1; }
    void resize(std::size_t capacity);
    std::vector<Slot> slots_;
    std::size_t size_ = 0;
  };
  IdTable ids_;
  // Chosen per process, so that ids picked to collide cannot make the
  // table's probes long.
  const std::uint64_t seed_ = std::uint64_t{std::random_device{}()} << 32 | std::random_device{}();
  std::map<std::string, CheckpointMove, std::less<>> checkpoints_;
};

}  // namespace es::store

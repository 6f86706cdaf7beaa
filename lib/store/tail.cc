#include "store/tail.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace es::store {

void Tail::append(const std::vector<RecordedEvent>& events,
                  const std::vector<Checkpoint>& checkpoints, std::uint64_t seq) {
  std::unique_lock lock(mu_);
  if (events_.empty() && !events.empty()) first_ = events.front().position;
  for (const RecordedEvent& e : events) {
    events_.push_back(e);
    auto it = streams_.find(e.stream);
    if (it == streams_.end()) it = streams_.emplace(e.stream, Stream{e.version, {}}).first;
    it->second.positions.push_back(e.position);
    ids_.insert(hash_uuid(e.id, seed_), e.position);
  }
  for (const Checkpoint& c : checkpoints) {
    checkpoints_[c.name] =
        CheckpointMove{c.remove ? std::nullopt : std::optional<Position>(c.position), seq};
  }
}

void Tail::trim(Position position, std::uint64_t seq) {
  constexpr std::size_t kStep = 256;
  std::vector<RecordedEvent> freed;
  freed.reserve(kStep);
  for (bool more = true; more;) {
    freed.clear();  // outside the lock
    std::unique_lock lock(mu_);
    while (!events_.empty() && first_ <= position && freed.size() < kStep) {
      RecordedEvent& e = events_.front();
      auto it = streams_.find(e.stream);
      it->second.positions.pop_front();
      ++it->second.first_version;
      if (it->second.positions.empty()) streams_.erase(it);
      ids_.erase(hash_uuid(e.id, seed_), e.position);
      freed.push_back(std::move(e));
      events_.pop_front();
      ++first_;
    }
    more = !events_.empty() && first_ <= position;
    if (!more) {
      if (events_.empty() && first_ <= position) first_ = position + 1;
      std::erase_if(checkpoints_, [seq](const auto& kv) { return kv.second.seq <= seq; });
    }
  }
}

const Tail::Stream* Tail::stream(std::string_view name) const {
  auto it = streams_.find(name);
  return it == streams_.end() ? nullptr : &it->second;
}

std::optional<Position> Tail::id(const Uuid& id) const {
  return ids_.find(hash_uuid(id, seed_), [&](Position p) { return at(p) && at(p)->id == id; });
}

void Tail::IdTable::insert(std::uint64_t hash, Position p) {
  if (2 * (size_ + 1) > slots_.size()) resize(std::max<std::size_t>(1024, 2 * slots_.size()));
  std::size_t i = hash & mask();
  while (slots_[i].position != 0) i = (i + 1) & mask();
  slots_[i] = Slot{hash, p};
  ++size_;
}

void Tail::IdTable::erase(std::uint64_t hash, Position p) {
  if (size_ == 0) return;
  std::size_t i = hash & mask();
  while (slots_[i].position != p) {
    if (slots_[i].position == 0) return;  // not held
    i = (i + 1) & mask();
  }
  // Backward shift: move each later slot of the run into the hole unless
  // its home lies cyclically in (hole, slot].
  for (std::size_t j = (i + 1) & mask(); slots_[j].position != 0; j = (j + 1) & mask()) {
    const std::size_t home = slots_[j].hash & mask();
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = Slot{};
  --size_;
  // A tail that drained gives its memory back (a burst may have grown it).
  if (size_ == 0 && slots_.size() > 65536) slots_ = std::vector<Slot>();
}

void Tail::IdTable::resize(std::size_t capacity) {
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(capacity));
  for (const Slot& s : old) {
    if (s.position == 0) continue;
    std::size_t i = s.hash & mask();
    while (slots_[i].position != 0) i = (i + 1) & mask();
    slots_[i] = s;
  }
}

const Tail::CheckpointMove* Tail::checkpoint(std::string_view name) const {
  auto it = checkpoints_.find(name);
  return it == checkpoints_.end() ? nullptr : &it->second;
}

}  // namespace es::store

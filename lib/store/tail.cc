#include "store/tail.h"

#include <cstring>
#include <vector>

namespace es::store {

std::size_t Tail::UuidHash::operator()(const Uuid& u) const noexcept {
  // v4 ids are random everywhere, v7 ids in their last 8 bytes.
  std::uint64_t a, b;
  std::memcpy(&a, u.bytes.data(), 8);
  std::memcpy(&b, u.bytes.data() + 8, 8);
  return static_cast<std::size_t>(b ^ (a * 0x9e3779b97f4a7c15ull));
}

void Tail::append(const std::vector<RecordedEvent>& events,
                  const std::vector<Checkpoint>& checkpoints, std::uint64_t seq) {
  std::unique_lock lock(mu_);
  if (events_.empty() && !events.empty()) first_ = events.front().position;
  for (const RecordedEvent& e : events) {
    events_.push_back(e);
    auto it = streams_.find(e.stream);
    if (it == streams_.end()) it = streams_.emplace(e.stream, Stream{e.version, {}}).first;
    it->second.positions.push_back(e.position);
    ids_[e.id] = e.position;
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
      ids_.erase(e.id);
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
  auto it = ids_.find(id);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const Tail::CheckpointMove* Tail::checkpoint(std::string_view name) const {
  auto it = checkpoints_.find(name);
  return it == checkpoints_.end() ? nullptr : &it->second;
}

}  // namespace es::store

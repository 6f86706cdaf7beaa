#include "groups.h"

#include <algorithm>

namespace esd {

using es::protocol::GroupSyncRequest;

void GroupTable::expire(Group& g, Clock::time_point now) {
  for (auto it = g.members.begin(); it != g.members.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    for (auto& h : g.holder)
      if (h == it->first) h.clear();
    it = g.members.erase(it);
    ++g.generation;
  }
}

std::vector<es::Checkpoint> GroupTable::accepted(const GroupSyncRequest& rq,
                                                 Clock::time_point now) {
  std::vector<es::Checkpoint> out;
  auto git = groups_.find(rq.group);
  if (git == groups_.end()) return out;
  expire(git->second, now);
  for (const auto& held : rq.held) {
    if (held.slot < es::kGroupSlots && git->second.holder[held.slot] == rq.member)
      out.push_back(es::Checkpoint{es::group_checkpoint_name(rq.group, held.slot), held.position});
  }
  return out;
}

void GroupTable::assign(Group& g, const GroupSyncRequest& rq) {
  auto lists = [&](std::uint16_t k) {
    return std::any_of(rq.held.begin(), rq.held.end(), [k](const auto& h) { return h.slot == k; });
  };
  auto me = g.members.find(rq.member);
  const std::size_t index = static_cast<std::size_t>(std::distance(g.members.begin(), me));
  for (std::uint16_t k = 0; k < es::kGroupSlots; ++k) {
    if (g.holder[k] == rq.member && !lists(k)) g.holder[k].clear();  // let go
    if (g.holder[k].empty() && k % g.members.size() == index) g.holder[k] = rq.member;
  }
}

}  // namespace esd

#include "groups.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace esd {

using es::protocol::GroupSyncRequest;

void GroupTable::expire(const std::string& name, Group& g, Clock::time_point now) {
  for (auto it = g.members.begin(); it != g.members.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    for (auto& h : g.holder)
      if (h == it->first) h.clear();
    spdlog::debug("group {}: the lease of member {} ran out", name, it->first);
    it = g.members.erase(it);
    ++g.generation;
  }
}

std::uint32_t GroupTable::members(const std::string& group, Clock::time_point now) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return 0;
  expire(group, it->second, now);
  const auto n = static_cast<std::uint32_t>(it->second.members.size());
  if (n == 0) groups_.erase(it);
  return n;
}

std::vector<es::protocol::GroupMembers> GroupTable::live(Clock::time_point now) {
  std::vector<es::protocol::GroupMembers> out;
  for (auto it = groups_.begin(); it != groups_.end();) {
    expire(it->first, it->second, now);
    if (it->second.members.empty()) {
      it = groups_.erase(it);
      continue;
    }
    out.push_back({it->first, static_cast<std::uint32_t>(it->second.members.size())});
    ++it;
  }
  return out;
}

std::vector<es::Checkpoint> GroupTable::accepted(const GroupSyncRequest& rq,
                                                 Clock::time_point now) {
  std::vector<es::Checkpoint> out;
  auto git = groups_.find(rq.group);
  if (git == groups_.end()) return out;
  expire(rq.group, git->second, now);
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

// daemon/groups.h
//
// GroupTable: who holds which slot of each competing-consumer group
// (es/group.h). It lives on the node's loop thread, in memory only: the
// checkpoints are in the store, and after a restart members simply sync
// again and are handed their slots anew.
//
// A sync is two steps around the commit of the member's checkpoints:
//   accepted() picks the checkpoints the store may take (only those of slots
//   the member holds: a member whose lease ran out cannot move a slot that
//   was given away); after the commit, sync() renews the member's lease,
//   frees the slots it let go, gives it the free slots that are its share,
//   and says which slots it holds. A slot it holds but should not is left
//   out of the answer: the member lets it go, and on its next sync (which no
//   longer lists it) the slot is freed for its new holder.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "es/event.h"
#include "es/group.h"

#include "protocol/messages.h"

namespace esd {

class GroupTable {
 public:
  using Clock = std::chrono::steady_clock;

  explicit GroupTable(std::chrono::milliseconds lease) : lease_(lease) {}

  // The checkpoints of `rq` that may be committed, as store checkpoints.
  std::vector<es::Checkpoint> accepted(const es::protocol::GroupSyncRequest& rq,
                                       Clock::time_point now);

  // Applies `rq` (its checkpoints committed) and answers it; `stored` gives
  // a slot's stored checkpoint (nullopt: none).
  template <class StoredFn>
  es::protocol::GroupSyncReply sync(const es::protocol::GroupSyncRequest& rq, Clock::time_point now,
                                    StoredFn stored);

  std::size_t groups() const { return groups_.size(); }
  // The live members of `group` (leases not run out).
  std::uint32_t members(const std::string& group, Clock::time_point now);
  // Every group with live members.
  std::vector<es::protocol::GroupMembers> live(Clock::time_point now);

 private:
  struct Group {
    std::map<std::string, Clock::time_point> members;  // id -> lease end
    std::array<std::string, es::kGroupSlots> holder;   // "" = free
    std::uint64_t generation = 0;
  };
  void expire(const std::string& name, Group& g, Clock::time_point now);
  // Frees the slots `member` holds but no longer lists, and adds its share.
  void assign(Group& g, const es::protocol::GroupSyncRequest& rq);

  std::chrono::milliseconds lease_;
  std::map<std::string, Group> groups_;
};

template <class StoredFn>
es::protocol::GroupSyncReply GroupTable::sync(const es::protocol::GroupSyncRequest& rq,
                                              Clock::time_point now, StoredFn stored) {
  Group& g = groups_[rq.group];
  expire(rq.group, g, now);
  es::protocol::GroupSyncReply reply;
  reply.lease_ms = static_cast<std::uint32_t>(lease_.count());
  if (rq.leave) {
    if (g.members.erase(rq.member) > 0) {
      ++g.generation;
      spdlog::debug("group {}: member {} left ({} now)", rq.group, rq.member, g.members.size());
    }
    for (auto& h : g.holder)
      if (h == rq.member) h.clear();
  } else {
    const bool joins = g.members.find(rq.member) == g.members.end();
    g.members[rq.member] = now + lease_;
    if (joins) {
      ++g.generation;
      spdlog::debug("group {}: member {} joined ({} now)", rq.group, rq.member, g.members.size());
    }
    assign(g, rq);
    for (std::uint16_t k = 0; k < es::kGroupSlots; ++k) {
      if (g.holder[k] != rq.member) continue;
      // Held, and still its share? Otherwise left out: the member lets it go.
      auto it = g.members.find(rq.member);
      std::size_t index = static_cast<std::size_t>(std::distance(g.members.begin(), it));
      if (k % g.members.size() != index) continue;
      std::optional<es::Position> p = stored(es::group_checkpoint_name(rq.group, k));
      reply.owned.push_back(es::protocol::SlotCheckpoint{k, p.value_or(0), p.has_value()});
    }
  }
  reply.generation = g.generation;
  reply.members = static_cast<std::uint32_t>(g.members.size());
  if (g.members.empty()) groups_.erase(rq.group);
  return reply;
}

}  // namespace esd

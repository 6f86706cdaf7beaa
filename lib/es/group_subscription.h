// es/group_subscription.h
//
// A GroupSubscription is one member of a competing-consumer group
// (es/group.h): it delivers, in order, the matching events of the streams
// whose slots the node hands it, and none of the others. It runs one
// Subscription over the log and, every sync_interval, syncs with the node:
// it sends the checkpoint of each slot it holds and learns which slots it
// holds from then on. A slot it gains is read from that slot's checkpoint
// (rewinding the log if need be, skipping what its other slots delivered
// already); a slot it loses is let go at once. Without a sync for half a
// lease it holds every event back until a sync succeeds. It leaves the
// group, committing its checkpoints, when run() returns.
//
// Thread safety: as Subscription.
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "es/group.h"
#include "es/subscription.h"

namespace es {

struct GroupOptions {
  std::string group;
  std::string member;  // empty: <host>-<pid>-<random>
  std::chrono::milliseconds sync_interval{500};
};

class GroupSubscription {
 public:
  // `options.from`/`from_end` say where a slot without a checkpoint starts;
  // `options.name` must be empty (the group keeps the checkpoints).
  GroupSubscription(Client& client, SubscriptionOptions options, GroupOptions group);

  Status run(const Subscription::Deliver& deliver, const std::atomic<bool>& stop);

  const std::string& member() const { return group_.member; }
  // The slots held now.
  std::vector<std::uint16_t> slots() const;
  const SubscriptionStats& stats() const { return stats_; }
  // After run(): the next position its reader would have examined.
  Position next_position() const { return next_; }

 private:
  struct Slot {
    bool held = false;
    Position done = 0;  // every event of the slot up to here was delivered
  };
  Status sync(Subscription* sub, bool leave);
  Status tick(Subscription& sub);
  Delivery offer(const RecordedEvent& e, const Subscription::Deliver& deliver);

  Client& client_;
  SubscriptionOptions options_;
  GroupOptions group_;
  Position start_ = 1;  // where a slot without a checkpoint starts
  std::array<Slot, kGroupSlots> slots_{};
  std::chrono::steady_clock::time_point lease_until_;
  std::chrono::steady_clock::time_point next_sync_;
  SubscriptionStats stats_;
  Position next_ = 0;
};

}  // namespace es

#include "es/group_subscription.h"

#include <random>

#include <fmt/format.h>

#include <unistd.h>

namespace es {

using Clock = std::chrono::steady_clock;

namespace {

std::string default_member() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  return fmt::format("{}-{}-{:04x}", host[0] != '\0' ? host : "member", ::getpid(), rd() & 0xffff);
}

}  // namespace

GroupSubscription::GroupSubscription(Client& client, SubscriptionOptions options,
                                     GroupOptions group)
    : client_(client), options_(std::move(options)), group_(std::move(group)) {
  if (group_.member.empty()) group_.member = default_member();
}

std::vector<std::uint16_t> GroupSubscription::slots() const {
  std::vector<std::uint16_t> out;
  for (std::uint16_t k = 0; k < kGroupSlots; ++k)
    if (slots_[k].held) out.push_back(k);
  return out;
}

Status GroupSubscription::run(const Subscription::Deliver& deliver, const std::atomic<bool>& stop) {
  if (!options_.name.empty()) return Status::invalid("a group member has no name of its own");
  auto hello = first_hello(client_, options_.reconnect);
  if (!hello.ok()) return hello.status();
  start_ = options_.from_end ? hello->head + 1 : std::max<Position>(options_.from, 1);
  ES_RETURN_IF_ERROR(sync(nullptr, false));
  // Read from the lowest checkpoint held; holding nothing yet, from the head.
  Position from = std::max(start_, hello->head + 1);
  for (const Slot& s : slots_)
    if (s.held) from = std::min(from, s.done + 1);
  SubscriptionOptions so = options_;
  so.from = from;
  so.from_end = false;
  so.on_tick = [this](Subscription& sub) { return tick(sub); };
  so.tick_interval = std::min(so.tick_interval, group_.sync_interval);
  Subscription sub(client_, std::move(so));
  Status ran = sub.run([&](const RecordedEvent& e) { return offer(e, deliver); }, stop);
  stats_ = sub.stats();
  next_ = sub.next_position();
  Status left = sync(&sub, true);
  return ran.ok() ? left : ran;
}

Status GroupSubscription::tick(Subscription& sub) {
  const auto now = Clock::now();
  if (now < next_sync_ && now < lease_until_) return {};
  Status s = sync(&sub, false);
  // An unreachable node is waited for: the lease lapses and offer() holds
  // every event until a sync succeeds.
  if (s.code() == Code::kUnavailable) return {};
  return s;
}

Status GroupSubscription::sync(Subscription* sub, bool leave) {
  protocol::GroupSyncRequest rq;
  rq.group = group_.group;
  rq.member = group_.member;
  rq.leave = leave;
  const Position examined = sub != nullptr ? sub->checkpoint_position() : 0;
  for (std::uint16_t k = 0; k < kGroupSlots; ++k) {
    if (!slots_[k].held) continue;
    // Every event of a held slot up to what the log reader examined was
    // delivered (or did not match).
    rq.held.push_back(protocol::SlotCheckpoint{k, std::max(slots_[k].done, examined), true});
  }
  const auto sent = Clock::now();
  auto r = client_.group_sync(rq);
  if (!r.ok()) return r.status();
  lease_until_ = sent + std::chrono::milliseconds(r->lease_ms / 2);
  next_sync_ = sent + group_.sync_interval;
  if (leave) {
    for (Slot& s : slots_) s.held = false;
    return {};
  }
  std::array<bool, kGroupSlots> owned{};
  Position rewind_to = UINT64_MAX;
  for (const auto& o : r->owned) {
    if (o.slot >= kGroupSlots) return Status::protocol("slot out of range in a group sync reply");
    owned[o.slot] = true;
    Slot& s = slots_[o.slot];
    if (s.held) continue;
    s.held = true;
    s.done = o.stored ? o.position : start_ - 1;
    rewind_to = std::min(rewind_to, s.done + 1);
  }
  bool let_go = false;
  for (std::uint16_t k = 0; k < kGroupSlots; ++k) {
    if (slots_[k].held && !owned[k]) {
      slots_[k].held = false;  // its last checkpoint went with this sync
      let_go = true;
    }
  }
  // Tell the node soon that they are free, so their new holder starts.
  if (let_go) next_sync_ = sent;
  if ((let_go || rewind_to != UINT64_MAX) && options_.on_notice) {
    options_.on_notice(fmt::format("group {}: member {} holds {} of {} slots ({} members)",
                                   group_.group, group_.member, slots().size(), kGroupSlots,
                                   r->members));
  }
  if (sub != nullptr && rewind_to != UINT64_MAX) sub->rewind(rewind_to);
  return {};
}

Delivery GroupSubscription::offer(const RecordedEvent& e, const Subscription::Deliver& deliver) {
  // Without a live lease the slot may be someone else's by now.
  if (Clock::now() >= lease_until_) return Delivery::kHold;
  Slot& s = slots_[group_slot(e.stream)];
  if (!s.held || e.position <= s.done) return Delivery::kSkip;
  Delivery d = deliver(e);
  if (d == Delivery::kContinue || d == Delivery::kStop) s.done = e.position;
  return d;
}

}  // namespace es

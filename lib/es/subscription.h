// es/subscription.h
//
// A Subscription delivers every committed event that matches its filter,
// from a position on, exactly once and in position order, through dropped
// frames, slow consumers and restarts of the node. It is the zguide's Clone
// pattern over the node's two sockets:
//   - it subscribes to the publisher first, then pages the history from the
//     store over requests, then follows the live feed, skipping whatever it
//     has delivered already;
//   - the publisher's sequence is the whole log (positions), and filtering
//     happens here, so a dropped frame shows as a gap even to a filtered
//     subscription: an event past the next position, or a heartbeat (which
//     carries the last position published) at or past it. A gap is read from
//     the store before anything after it is delivered;
//   - a consumer that falls behind makes the publisher drop frames for it
//     (esd --publish-hwm bounds what it queues), never wait: the subscription
//     then reads from the store and catches up;
//   - a node that goes silent (no frame in three heartbeat intervals of waiting) or says
//     it is stopping is waited for: the subscription asks until it answers,
//     reconnects and reads what it missed. With `reconnect` off it fails with
//     kUnavailable instead.
//   - a named subscription resumes after the checkpoint the node keeps for
//     its name, and moves that checkpoint forward (every checkpoint_interval,
//     and when run() returns) only over events the consumer accepted.
//
// Thread safety: a Subscription and its Client belong to one thread; `stop`
// may be set from anywhere, a signal handler included.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "es/client.h"

namespace es {

// Why a subscription lost its node when the node said it was stopping
// (SubscriptionOptions::on_link, and the lost notice).
inline constexpr std::string_view kNodeStopping = "the node is stopping";

struct SubscriptionFilter {
  std::string stream;              // empty: any
  std::string category;            // empty: any
  std::vector<std::string> types;  // empty: any
  // Every position as stored, holes included (ReadRequest::raw): a
  // replica's copy. Takes no stream, category or types; reads the store
  // for each live frame.
  bool raw = false;
  bool matches(const RecordedEvent& e) const;
};

// What the consumer did with an event.
enum class Delivery {
  kContinue,  // accepted (written out): send the next
  kStop,      // accepted, and stop after it (say, a count was reached)
  kRefused,   // not accepted (say, the output closed): stop before it
  kSkip,      // not for this consumer: pass over it
  kHold,      // not now: stop here, tick, and offer it again
};

struct SubscriptionOptions {
  SubscriptionFilter filter;
  Position from = 1;      // the first position to deliver (1: the start of the log)
  bool from_end = false;  // instead: after the head as of the first contact
  // Durable: resume after the checkpoint the node keeps for this name (when
  // it has one; `from` otherwise), and move it forward.
  std::string name;
  bool until_head = false;  // return once caught up with the head of the first contact
  bool reconnect = true;    // wait through the node's restarts (else kUnavailable)
  std::chrono::milliseconds checkpoint_interval{1000};
  int receive_hwm = 1000;            // published frames buffered before they are dropped
  std::uint32_t page_events = 5000;  // events per catch-up read
  // Told of connection changes ("lost ...", "reconnected ..."), for a log.
  std::function<void(const std::string&)> on_notice;
  // Told when the node is lost (false, and why: kNodeStopping when
  // it said so) and when it answers again (true).
  std::function<void(bool up, const std::string& why)> on_link;
  // Called every tick_interval while running (and at once after kHold),
  // between deliveries; may rewind(). An error ends run().
  std::function<Status(class Subscription&)> on_tick;
  std::chrono::milliseconds tick_interval{200};
  // Called after each catch-up page and each live frame has been offered:
  // a consumer that batches its work (a replica) commits here. An error
  // ends run().
  std::function<Status()> on_batch;
  // The publisher to subscribe to; empty: the one the node's hello names
  // (set it when the node is reached through a proxy or a NAT).
  std::string publish_endpoint;
};

// What a subscription has done so far: the repairs show that the fault
// paths ran.
struct SubscriptionStats {
  std::uint64_t delivered = 0;   // events the consumer accepted
  std::uint64_t live = 0;        // of those, taken from the live feed
  std::uint64_t reads = 0;       // catch-up reads from the store
  std::uint64_t gaps = 0;        // repairs of a hole seen in the live feed
  std::uint64_t reconnects = 0;  // times the node was lost and found again
};

// The first hello of a subscription. With `wait` (reconnecting allowed), a
// node that nothing listens for yet (refused at once) is asked again until
// the client's timeout has passed, as long as a silent node is waited for.
Result<protocol::HelloReply> first_hello(Client& client, bool wait);

class Subscription {
 public:
  Subscription(Client& client, SubscriptionOptions options);
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  using Deliver = std::function<Delivery(const RecordedEvent&)>;

  // Calls `deliver` for every matching event in order until it says stop,
  // `stop` turns true, the head is reached (until_head) or an error occurs.
  // The first contact must succeed within the client's timeout (else
  // kUnavailable); after it, outages are waited through when `reconnect`.
  // A named subscription saves its checkpoint before returning; failing to
  // is an error.
  Status run(const Deliver& deliver, const std::atomic<bool>& stop);

  // The next position the subscription will examine.
  Position next_position() const { return next_; }
  // The last position examined (never past the node's head): every match at
  // or below it was accepted or skipped.
  Position checkpoint_position() const { return std::min(next_ - 1, head_seen_); }
  // The highest head the node has shown (hello, pages, heartbeats).
  Position head_seen() const { return head_seen_; }
  // Goes back to examine from `position` again (from on_tick): for a
  // consumer that took over events it had skipped.
  void rewind(Position position);
  const SubscriptionStats& stats() const { return stats_; }

 private:
  Status first_contact();
  Status connect_feed(const protocol::HelloReply& hello);
  Status reconnect(const std::atomic<bool>& stop);
  void lost(const std::string& why);
  Status follow(const Deliver& deliver, const std::atomic<bool>& stop);
  Status on_frame(const zmq::message_t& msg, const Deliver& deliver, const std::atomic<bool>& stop);
  Status catch_up(const Deliver& deliver, Position until, const std::atomic<bool>& stop);
  void offer(const RecordedEvent& e, const Deliver& deliver, bool live);
  Status batch_done();
  Status save_checkpoint(bool force);
  Status tick(bool force);
  void notice(const std::string& what) const;

  Client& client_;
  SubscriptionOptions options_;
  Position next_ = 1;
  Position target_ = 0;     // until_head: the head to reach
  Position saved_ = 0;      // the checkpoint the node holds for our name
  Position head_seen_ = 0;  // the highest head the node has shown
  bool done_ = false;       // the consumer said stop, or refused
  bool held_ = false;       // the consumer said hold: tick before going on
  bool connected_ = false;
  bool behind_ = true;  // the store may hold positions >= next_ not yet seen
  std::string lost_reason_;
  std::chrono::milliseconds silence_limit_{3000};
  std::chrono::milliseconds quiet_{0};  // waited without a frame since the last one
  std::chrono::steady_clock::time_point next_save_;
  std::chrono::steady_clock::time_point next_tick_;
  std::unique_ptr<zmq::socket_t> feed_;
  SubscriptionStats stats_;
};

}  // namespace es

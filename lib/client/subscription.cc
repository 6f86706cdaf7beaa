#include "es/subscription.h"

#include <algorithm>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "es/event_filter.h"
#include "es/sealed.h"

namespace es {

using protocol::Kind;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool SubscriptionFilter::matches(const RecordedEvent& e) const {
  return EventFilter{EventFilter::one(stream), EventFilter::one(category), types}.matches(e);
}

Subscription::Subscription(Client& client, SubscriptionOptions options)
    : client_(client), options_(std::move(options)), next_(std::max<Position>(options_.from, 1)) {}

Subscription::~Subscription() = default;

void Subscription::notice(const std::string& what) const {
  if (options_.on_notice) options_.on_notice(what);
}

Status Subscription::run(const Deliver& deliver, const std::atomic<bool>& stop) {
  ES_RETURN_IF_ERROR(first_contact());
  next_save_ = Clock::now() + options_.checkpoint_interval;
  Status followed = follow(deliver, stop);
  Status saved = save_checkpoint(true);
  return followed.ok() ? saved : followed;
}

// With `wait`, a node that is not listening yet (being started) is asked
// again until it answers or the client's timeout has passed. Each try waits
// 2 s at most, so that a connection that neither completes nor reports a
// refusal costs one try, not the whole timeout: a node that came up
// meanwhile is still reached. (The one cause seen, libzmq's I/O thread
// blocked on a closed monitor, Client::close_sockets() removes.)
Result<protocol::HelloReply> first_hello(Client& client, bool wait) {
  if (!wait) return client.hello();
  const milliseconds timeout = client.timeout();
  const auto deadline = Clock::now() + timeout;
  Result<protocol::HelloReply> hello = Status::unavailable("not asked");
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    client.set_timeout(std::clamp(left, milliseconds(1), milliseconds(2000)));
    hello = client.hello();
    if (hello.ok() || hello.status().code() != Code::kUnavailable ||
        Clock::now() + milliseconds(100) >= deadline)
      break;
    std::this_thread::sleep_for(milliseconds(100));
    client.reset();
  }
  client.set_timeout(timeout);
  if (hello.ok() || hello.status().code() != Code::kUnavailable) return hello;
  return Status::unavailable(fmt::format("waited {:g} s for {}: {}",
                                         static_cast<double>(timeout.count()) / 1000,
                                         client.endpoint(), hello.status().message()));
}

Status Subscription::first_contact() {
  auto hello = first_hello(client_, options_.reconnect);
  if (!hello.ok()) return hello.status();
  head_seen_ = hello->head;
  target_ = hello->head;
  if (options_.from_end) next_ = hello->head + 1;
  if (!options_.name.empty()) {
    auto cp = client_.checkpoint(options_.name);
    if (!cp.ok()) return cp.status();
    if (cp->exists) {
      saved_ = cp->position;
      next_ = cp->position + 1;
      // With keys, a key that may not move this checkpoint (a read key, or
      // another write key's checkpoint) is refused now, before an event is
      // printed, rather than at the first save: the move is to where it is.
      if (client_.options().curve.enabled()) {
        auto mine = client_.set_checkpoint(Checkpoint{options_.name, cp->position});
        if (!mine.ok() && mine.status().code() == Code::kPermissionDenied)
          return Status(Code::kPermissionDenied,
                        "subscription " + options_.name + ": " + mine.status().message());
      }
    }
  }
  if (options_.until_head) {
    connected_ = true;  // paging only: no live feed needed
    return {};
  }
  return connect_feed(*hello);
}

Status Subscription::connect_feed(const protocol::HelloReply& hello) {
  silence_limit_ = milliseconds(3 * static_cast<std::int64_t>(hello.heartbeat_ms) + 1000);
  std::string endpoint = options_.publish_endpoint.empty() ? client_.publish_endpoint(hello)
                                                           : options_.publish_endpoint;
  feed_.reset();
  try {
    auto sock = std::make_unique<zmq::socket_t>(client_.context(), zmq::socket_type::sub);
    es::set_curve_client(*sock, client_.options().curve);
    sock->set(zmq::sockopt::linger, 0);
    sock->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes));
    sock->set(zmq::sockopt::rcvhwm, options_.receive_hwm);
    sock->set(zmq::sockopt::subscribe, "");
    sock->connect(endpoint);
    feed_ = std::move(sock);
  } catch (const zmq::error_t& e) {
    return Status::unavailable("cannot subscribe to " + endpoint + ": " + e.what());
  }
  // Subscribed before the history is read, so nothing committed from here
  // on can slip between the two.
  quiet_ = milliseconds(0);
  connected_ = true;
  behind_ = true;
  return {};
}

void Subscription::lost(const std::string& why) {
  connected_ = false;
  feed_.reset();
  lost_reason_ = why;
  if (options_.on_link) options_.on_link(false, why);
  notice(fmt::format("lost {} at position {}: {}{}", client_.endpoint(), next_, why,
                     options_.reconnect ? "; waiting for it" : ""));
}

Status Subscription::reconnect(const std::atomic<bool>& stop) {
  if (!options_.reconnect) return Status::unavailable(lost_reason_);
  milliseconds backoff(100);
  while (!stop.load()) {
    client_.reset();
    auto hello = client_.hello();
    if (hello.ok()) {
      if (hello->head + 1 < next_) {
        return Status::corruption(fmt::format(
            "{} is at position {}, behind position {} that this subscription has seen: it is "
            "not the same store, or it lost acknowledged events",
            client_.endpoint(), hello->head, next_ - 1));
      }
      head_seen_ = std::max(head_seen_, hello->head);
      Status s;
      if (options_.until_head) {
        connected_ = true;
      } else {
        s = connect_feed(*hello);
      }
      if (s.ok()) {
        ++stats_.reconnects;
        if (options_.on_link) options_.on_link(true, {});
        notice(fmt::format("reconnected to {} at position {} (head {})", client_.endpoint(), next_,
                           hello->head));
        return {};
      }
    }
    for (auto slept = milliseconds(0); slept < backoff && !stop.load(); slept += milliseconds(50))
      std::this_thread::sleep_for(milliseconds(50));
    backoff = std::min(backoff * 2, milliseconds(1000));
  }
  return {};
}

Status Subscription::follow(const Deliver& deliver, const std::atomic<bool>& stop) {
  zmq::message_t msg;
  while (!done_ && !stop.load()) {
    ES_RETURN_IF_ERROR(tick(held_));
    held_ = false;
    if (options_.until_head && next_ > target_) return {};
    if (!connected_) {
      ES_RETURN_IF_ERROR(reconnect(stop));
      continue;
    }
    Status s;
    if (behind_ || options_.until_head) {
      s = catch_up(deliver, options_.until_head ? target_ + 1 : 0, stop);
    } else {
      bool got = false;
      constexpr milliseconds kPollWait(200);
      const auto polled = Clock::now();
      try {
        zmq::pollitem_t items[] = {{feed_->handle(), 0, ZMQ_POLLIN, 0}};
        if (zmq::poll(items, 1, kPollWait) > 0)
          got = feed_->recv(msg, zmq::recv_flags::dontwait).has_value();
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) return Status::unavailable(std::string("subscription: ") + e.what());
      }
      if (got) {
        quiet_ = milliseconds(0);
        s = on_frame(msg, deliver, stop);
        // Frames that queued up meanwhile join the same batch: a consumer
        // that commits per batch (a replica) pays one commit for them all.
        constexpr int kDrainFrames = 1000;
        for (int more = 0; s.ok() && more < kDrainFrames && !done_ && !held_ && !behind_ &&
                           feed_->recv(msg, zmq::recv_flags::dontwait);
             ++more)
          s = on_frame(msg, deliver, stop);
        if (s.ok()) s = batch_done();
      } else {
        // Silence is counted in time spent waiting, at most one wait's worth
        // per poll: a consumer that was slow, or a process that was paused,
        // has frames queued, not a silent node.
        quiet_ +=
            std::min(kPollWait, std::chrono::duration_cast<milliseconds>(Clock::now() - polled));
      }
      if (!got && quiet_ > silence_limit_) {
        // Silent past three heartbeats: is the node there at all?
        auto hello = client_.hello();
        if (hello.ok()) {
          s = connect_feed(*hello);
          ++stats_.reconnects;
          notice(fmt::format("no frame from the publisher for {} ms; resubscribed at position {}",
                             silence_limit_.count(), next_));
        } else {
          lost(fmt::format("no heartbeat for {} ms", silence_limit_.count()));
        }
      }
    }
    if (s.code() == Code::kUnavailable) {
      lost(s.message());
      continue;
    }
    ES_RETURN_IF_ERROR(s);
    ES_RETURN_IF_ERROR(save_checkpoint(false));
  }
  return {};
}

namespace {

// Whether a live frame's events are as the node stores them: none names a
// data subject (es/sealed.h), so none had sealed data opened for the feed.
bool as_stored(const std::vector<RecordedEvent>& events) {
  return std::all_of(events.begin(), events.end(), [](const RecordedEvent& e) {
    if (e.metadata.find("$subject") == std::string::npos) return true;  // the common case, cheaply
    auto subject = subject_of(e.metadata);
    return subject.ok() && !subject->has_value();
  });
}

}  // namespace

Status Subscription::on_frame(const zmq::message_t& msg, const Deliver& deliver,
                              const std::atomic<bool>& stop) {
  std::string_view frame(static_cast<const char*>(msg.data()), msg.size());
  auto header = protocol::decode_header(frame);
  if (!header.ok()) return {};  // not ours; the next heartbeat repairs any loss
  switch (header->kind) {
    case Kind::kHeartbeat: {
      auto hb = protocol::decode_body<protocol::HeartbeatNotice>(frame);
      if (!hb.ok()) return {};
      head_seen_ = std::max(head_seen_, hb->head);
      // Everything up to hb->head was published before this heartbeat.
      if (hb->head < next_) return {};
      ++stats_.gaps;
      return catch_up(deliver, hb->head + 1, stop);
    }
    case Kind::kStopping:
      return Status::unavailable(std::string(kNodeStopping));
    case Kind::kEvents: {
      auto notice = protocol::decode_body<protocol::EventsNotice>(frame);
      if (!notice.ok()) return {};
      // A raw subscription (a replica's) copies the log as stored. The
      // live feed carries events as stored but for sealed data, which it
      // opens, and only events naming a data subject are sealed: a frame
      // holding one only says how far to read. (Reading every frame made
      // a replica ask its primary for each commit group, and fall behind
      // for good under a load its commits could carry.)
      if (options_.filter.raw && !as_stored(notice->events)) {
        const Position last = notice->events.back().position;
        head_seen_ = std::max(head_seen_, last);
        if (last < next_) return {};
        return catch_up(deliver, last + 1, stop);
      }
      for (const auto& e : notice->events) {
        if (done_ || held_ || stop.load()) return {};
        if (e.position < next_) continue;  // delivered already
        if (e.position > next_) {          // a gap: read it from the store first
          ++stats_.gaps;
          ES_RETURN_IF_ERROR(catch_up(deliver, e.position, stop));
          if (done_ || held_) return {};
          if (next_ < e.position) {  // stopped short: catch up before anything live
            behind_ = true;
            return {};
          }
        }
        offer(e, deliver, true);
      }
      return {};
    }
    default:
      return {};
  }
}

// Reads [next_, until) from the store (until 0: to its end) and delivers it.
Status Subscription::catch_up(const Deliver& deliver, Position until,
                              const std::atomic<bool>& stop) {
  const auto& f = options_.filter;
  ReadRequest rq;
  rq.limit = options_.page_events;
  // By position over the log; a stream filter narrows by its category.
  rq.category = f.stream.empty() ? f.category : std::string(category_of(f.stream));
  rq.types = f.types;
  rq.raw = f.raw;
  // The next page is asked for before this one is delivered, so that the
  // node reads it while the consumer works. A prefetch for a position that
  // is no longer next (a rewind) is dropped.
  struct Prefetch {
    std::uint64_t id = 0;
    Position from = 0;
  };
  std::optional<Prefetch> ahead;
  auto drop_ahead = [&] {
    if (ahead) client_.abandon(ahead->id);
    ahead.reset();
  };
  struct DropOnExit {
    decltype(drop_ahead)& drop;
    ~DropOnExit() { drop(); }
  } drop_on_exit{drop_ahead};
  while (!done_ && !stop.load()) {
    if (until != 0 && next_ >= until) return {};
    ++stats_.reads;
    Result<ReadResult> page = Status::unavailable("not read");
    if (ahead && ahead->from == next_) {
      page = client_.await_read(ahead->id);
      ahead.reset();
    } else {
      drop_ahead();
      rq.from = next_;
      page = client_.read(rq);
    }
    if (!page.ok()) return page.status();
    if (!page->end && (until == 0 || page->next < until)) {
      rq.from = page->next;
      if (auto id = client_.send_read(rq); id.ok()) ahead = Prefetch{*id, page->next};
    }
    head_seen_ = std::max(head_seen_, page->head);
    for (const auto& e : page->events) {
      if (e.position < next_) continue;
      if (until != 0 && e.position >= until) break;
      offer(e, deliver, false);
      if (done_ || held_) return batch_done();
    }
    ES_RETURN_IF_ERROR(batch_done());
    // Whatever the page scanned without a match is behind us too.
    Position scanned = until != 0 ? std::min<Position>(page->next, until) : page->next;
    next_ = std::max(next_, scanned);
    if (page->end) {
      if (until == 0) behind_ = false;
      return {};
    }
    ES_RETURN_IF_ERROR(save_checkpoint(false));
    ES_RETURN_IF_ERROR(tick(false));
  }
  return {};
}

Status Subscription::batch_done() { return options_.on_batch ? options_.on_batch() : Status(); }

void Subscription::offer(const RecordedEvent& e, const Deliver& deliver, bool live) {
  head_seen_ = std::max(head_seen_, e.position);
  if (!options_.filter.matches(e)) {
    next_ = e.position + 1;
    return;
  }
  const Delivery result = deliver(e);
  switch (result) {
    case Delivery::kContinue:
    case Delivery::kStop:
      next_ = e.position + 1;
      ++stats_.delivered;
      if (live) ++stats_.live;
      done_ = done_ || result == Delivery::kStop;
      break;
    case Delivery::kRefused:
      done_ = true;
      break;
    case Delivery::kSkip:
      next_ = e.position + 1;
      break;
    case Delivery::kHold:
      held_ = true;
      behind_ = true;  // read it again from the store after the tick
      break;
  }
}

void Subscription::rewind(Position position) {
  position = std::max<Position>(position, 1);
  if (position >= next_) return;
  next_ = position;
  behind_ = true;
}

Status Subscription::tick(bool force) {
  if (!options_.on_tick) return {};
  const auto now = Clock::now();
  if (!force && now < next_tick_) return {};
  next_tick_ = now + options_.tick_interval;
  return options_.on_tick(*this);
}

Status Subscription::save_checkpoint(bool force) {
  if (options_.name.empty()) return {};
  // Never past what the node has: --from beyond the head examines nothing.
  const Position pos = std::min(next_ - 1, head_seen_);
  if (pos <= saved_) return {};
  const auto now = Clock::now();
  if (!force && now < next_save_) return {};
  next_save_ = now + options_.checkpoint_interval;
  auto r = client_.set_checkpoint(Checkpoint{options_.name, pos});
  if (!r.ok()) {
    if (!force && r.status().code() == Code::kUnavailable) return {};  // again next time
    return Status(r.status().code(), "saving checkpoint " + options_.name + " at " +
                                         std::to_string(pos) + ": " + r.status().message());
  }
  saved_ = std::max(saved_, r->position);
  return {};
}

}  // namespace es

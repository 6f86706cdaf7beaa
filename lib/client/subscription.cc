#include <algorithm>

#include "es/client.h"

namespace es {

using protocol::Kind;

bool SubscriptionFilter::matches(const RecordedEvent& e) const {
  if (!stream.empty() && e.stream != stream) return false;
  if (!category.empty() && category_of(e.stream) != category) return false;
  return types.empty() || std::find(types.begin(), types.end(), e.type) != types.end();
}

Subscription::Subscription(Client& client, SubscriptionFilter filter, Position from)
    : client_(client), filter_(std::move(filter)), next_(std::max<Position>(from, 1)) {}

Subscription::~Subscription() = default;

Result<Position> Subscription::head(Client& client) {
  auto hello = client.hello();
  if (!hello.ok()) return hello.status();
  return hello->head;
}

// Pages the store from next_ until it reaches `until` (0: the end of the log).
Status Subscription::catch_up(const std::function<bool(const RecordedEvent&)>& deliver,
                              Position until, bool* keep_going) {
  ReadRequest rq;
  rq.limit = 1000;
  rq.category =
      filter_.stream.empty() ? filter_.category : std::string(category_of(filter_.stream));
  rq.types = filter_.types;
  for (;;) {
    rq.from = next_;
    auto page = client_.read(rq);
    if (!page.ok()) return page.status();
    for (const auto& e : page->events) {
      if (e.position < next_) continue;
      next_ = e.position + 1;
      if (filter_.matches(e) && !deliver(e)) {
        *keep_going = false;
        return {};
      }
    }
    next_ = std::max(next_, page->next);
    if (page->end || (until != 0 && next_ >= until)) return {};
  }
}

Status Subscription::run(const std::function<bool(const RecordedEvent&)>& deliver,
                         const std::atomic<bool>& stop) {
  auto pub = client_.publish_endpoint();
  if (!pub.ok()) return pub.status();
  try {
    sub_ = std::make_unique<zmq::socket_t>(client_.context(), zmq::socket_type::sub);
    sub_->set(zmq::sockopt::linger, 0);
    sub_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes));
    sub_->set(zmq::sockopt::rcvhwm, 100'000);
    sub_->set(zmq::sockopt::subscribe, "");
    sub_->connect(*pub);
  } catch (const zmq::error_t& e) {
    return Status::unavailable("cannot subscribe to " + *pub + ": " + e.what());
  }
  bool keep_going = true;
  // Subscribed first, so nothing committed after this read can slip by.
  ES_RETURN_IF_ERROR(catch_up(deliver, 0, &keep_going));
  zmq::message_t msg;
  while (keep_going && !stop.load()) {
    zmq::pollitem_t items[] = {{sub_->handle(), 0, ZMQ_POLLIN, 0}};
    try {
      if (zmq::poll(items, 1, std::chrono::milliseconds(200)) == 0) continue;
      if (!sub_->recv(msg, zmq::recv_flags::dontwait)) continue;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return Status::unavailable(std::string("subscription: ") + e.what());
    }
    std::string_view frame(static_cast<const char*>(msg.data()), msg.size());
    auto header = protocol::decode_header(frame);
    if (!header.ok()) continue;  // not ours; the next heartbeat repairs any loss
    if (header->kind == Kind::kHeartbeat) {
      auto hb = protocol::decode_body<protocol::HeartbeatNotice>(frame);
      // Everything up to hb->head was published before this heartbeat.
      if (hb.ok() && hb->head >= next_)
        ES_RETURN_IF_ERROR(catch_up(deliver, hb->head + 1, &keep_going));
      continue;
    }
    if (header->kind != Kind::kEvents) continue;
    auto notice = protocol::decode_body<protocol::EventsNotice>(frame);
    if (!notice.ok()) continue;
    for (const auto& e : notice->events) {
      if (!keep_going) break;
      if (e.position < next_) continue;  // delivered already
      if (e.position > next_) {          // a gap: fetch it from the store
        ES_RETURN_IF_ERROR(catch_up(deliver, e.position, &keep_going));
        if (!keep_going || e.position < next_) continue;
      }
      next_ = e.position + 1;
      if (filter_.matches(e) && !deliver(e)) keep_going = false;
    }
  }
  return {};
}

}  // namespace es

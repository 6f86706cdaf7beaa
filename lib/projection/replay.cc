#include "projection/replay.h"

#include <algorithm>
#include <atomic>

#include "es/subscription.h"

namespace es {

Status replay(Projection& p, Client& client, const ReplayOptions& options) {
  SubscriptionOptions sub_options;
  const auto& src = p.source();
  sub_options.filter = SubscriptionFilter{src.read_stream(), src.read_category(), src.types};
  sub_options.from = std::max<Position>(options.from, 1);
  sub_options.until_head = true;
  sub_options.reconnect = false;
  Subscription sub(client, sub_options);
  Status failed;
  std::atomic<bool> stop{false};
  Status s = sub.run(
      [&](const RecordedEvent& e) {
        if (options.to && e.position > *options.to) return Delivery::kRefused;
        if (options.progress) options.progress(e.position);
        if (options.watchdog != nullptr) options.watchdog->event(e.position, options.event_cpu);
        failed = p.apply(e);
        return failed.ok() ? Delivery::kContinue : Delivery::kRefused;
      },
      stop);
  if (options.watchdog != nullptr) options.watchdog->idle();
  return failed.ok() ? s : failed;
}

}  // namespace es

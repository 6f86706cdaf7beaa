#include "replay.h"

#include <atomic>

#include "es/json.h"
#include "es/subscription.h"

namespace escmd {

std::string partition_line(const std::string& key, const std::string& state) {
  std::string out = "{\"key\":";
  es::append_json_string(out, key);
  out += ",\"state\":";
  out += state;
  out += '}';
  return out;
}

ExitCode replay_and_print(es::Projection& p, es::Client& client, es::Position from,
                          std::optional<es::Position> to, const std::optional<std::string>& key,
                          Context& ctx) {
  es::SubscriptionOptions options;
  const auto& src = p.source();
  options.filter = es::SubscriptionFilter{src.read_stream(), src.read_category(), src.types};
  options.from = std::max<es::Position>(from, 1);
  options.until_head = true;
  options.reconnect = false;
  es::Subscription sub(client, options);
  es::Status failed;
  std::atomic<bool> stop{false};
  es::Status s = sub.run(
      [&](const es::RecordedEvent& e) {
        if (to && e.position > *to) return es::Delivery::kRefused;
        failed = p.apply(e);
        return failed.ok() ? es::Delivery::kContinue : es::Delivery::kRefused;
      },
      stop);
  if (!failed.ok()) return ctx.fail(failed);
  if (!s.ok()) return ctx.fail(s);
  if (key) {
    auto state = p.state(*key);
    if (!state) {
      return ctx.fail(
          es::Status::not_found("projection " + p.name() + " has no partition " + *key));
    }
    ctx.emit(partition_line(*key, *state));
    return ExitCode::kSuccess;
  }
  bool open = true;
  p.for_each([&](const std::string& k, const std::string& state) {
    if (open) open = ctx.emit(partition_line(k, state));
  });
  return ExitCode::kSuccess;
}

}  // namespace escmd

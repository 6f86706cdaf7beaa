// cmd/cmd_replay.cc: `es replay FILE [--from P] [--to P] [--key K]`
//
// Runs a projection (es/projection.h) here, over the node's log from
// --from (default: the start) to --to (default: the head when it starts),
// and prints the final state of every partition, in key order, one line
// each: {"key":K,"state":S}. The same log and file always print the same
// bytes. A reducer that fails stops it with exit 1, naming the event.
#include <optional>

#include "es/json.h"
#include "es/projection.h"
#include "es/subscription.h"

#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

struct ReplayArgs {
  std::string file;
  std::uint64_t from = 1;
  std::optional<std::uint64_t> to;
  std::optional<std::string> key;
};

std::string partition_line(const std::string& key, const std::string& state) {
  std::string out = "{\"key\":";
  es::append_json_string(out, key);
  out += ",\"state\":";
  out += state;
  out += '}';
  return out;
}

ExitCode run_replay(const ReplayArgs& args, Context& ctx) {
  if (args.to && *args.to < args.from) return ctx.usage("--to must not be below --from");
  auto projection = es::Projection::load(args.file);
  if (!projection.ok()) return ctx.fail(projection.status());
  es::Projection& p = **projection;

  es::SubscriptionOptions options;
  options.filter = es::SubscriptionFilter{p.source().stream, p.source().category, p.source().types};
  options.from = std::max<std::uint64_t>(args.from, 1);
  options.until_head = true;
  options.reconnect = false;
  auto client = ctx.connect();
  es::Subscription sub(*client, options);
  es::Status failed;
  std::atomic<bool> stop{false};
  es::Status s = sub.run(
      [&](const es::RecordedEvent& e) {
        if (args.to && e.position > *args.to) return es::Delivery::kRefused;
        failed = p.apply(e);
        return failed.ok() ? es::Delivery::kContinue : es::Delivery::kRefused;
      },
      stop);
  if (!failed.ok()) return ctx.fail(failed);
  if (!s.ok()) return ctx.fail(s);

  if (args.key) {
    auto state = p.state(*args.key);
    if (!state) {
      return ctx.fail(
          es::Status::not_found("projection " + p.name() + " has no partition " + *args.key));
    }
    ctx.emit(partition_line(*args.key, *state));
    return ExitCode::kSuccess;
  }
  bool open = true;
  p.for_each([&](const std::string& key, const std::string& state) {
    if (open) open = ctx.emit(partition_line(key, state));
  });
  return ExitCode::kSuccess;
}

}  // namespace

void register_replay(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* sub = app.add_subcommand(
      "replay", "Run a projection (a jq file) over the log here and print its final states");
  sub->add_option("file", args->file, "The projection file")->required()->type_name("FILE");
  sub->add_option("--from", args->from, "First position to read (default 1)")
      ->type_name("POSITION");
  sub->add_option("--to", args->to, "Last position to read (default: the head at the start)")
      ->type_name("POSITION");
  sub->add_option("--key", args->key, "Print only this partition (exit 4 if it has no state)")
      ->type_name("KEY");
  sub->callback([args, &ctx] { ctx.exit_code = run_replay(*args, ctx); });
}

}  // namespace escmd

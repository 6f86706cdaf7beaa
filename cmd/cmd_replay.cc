// cmd/cmd_replay.cc: `es replay FILE [--from P] [--to P] [--key K]`
//
// Runs a projection (es/projection.h) here, over the node's log from
// --from (default: the start) to --to (default: the head when it starts),
// and prints the final state of every partition, in key order, one line
// each: {"key":K,"state":S}. The same log and file always print the same
// bytes. A reducer that fails stops it with exit 1, naming the event.
#include <optional>

#include "cli/options.h"
#include "commands.h"
#include "output.h"
#include "replay.h"

namespace escmd {
namespace {

struct ReplayArgs {
  std::string file;
  std::uint64_t from = 1;
  std::optional<std::uint64_t> to;
  std::optional<std::string> key;
};

ExitCode run_replay(const ReplayArgs& args, Context& ctx) {
  if (args.to && *args.to < args.from) return ctx.usage("--to must not be below --from");
  auto source = es::Projection::read_source(args.file);
  if (!source.ok()) return ctx.fail(source.status());
  const std::string name = es::Projection::name_of(args.file);
  return in_sandbox(ctx, name, [&](es::Watchdog& watchdog, const es::SandboxLimits& limits) {
    auto projection = es::compile_watched(*source, name, watchdog, limits);
    if (!projection.ok()) return ctx.fail(projection.status());
    auto client = ctx.connect();
    return replay_and_print(**projection, *client, args.from, args.to, args.key, ctx, &watchdog,
                            limits.event_cpu);
  });
}

}  // namespace

void register_replay(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* sub = app.add_subcommand(
      "replay", "Run a projection (a jq file) over the log here and print its final states");
  sub->add_option("file", args->file, "The projection file")->required()->type_name("FILE");
  sub->add_option("--from", args->from, "First position to read (default 1)")
      ->check(escli::whole_number())
      ->type_name("POSITION");
  sub->add_option("--to", args->to, "Last position to read (default: the head at the start)")
      ->check(escli::whole_number())
      ->type_name("POSITION");
  sub->add_option("--key", args->key, "Print only this partition (exit 4 if it has no state)")
      ->type_name("KEY");
  sub->callback([args, &ctx] { ctx.exit_code = run_replay(*args, ctx); });
}

}  // namespace escmd

// cmd/cmd_stop.cc: `es stop`, a graceful stop confirmed by the node.
#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

ExitCode run_stop(Context& ctx) {
  auto client = ctx.connect();
  auto r = client->stop();
  if (!r.ok()) return ctx.fail(r.status());
  if (ctx.text()) {
    ctx.emit("stopped at position " + std::to_string(r->head));
  } else {
    ctx.emit(ObjectWriter(false).field("stopped", true).field("head", r->head).str());
  }
  return ExitCode::kSuccess;
}

}  // namespace

void register_stop(CLI::App& app, Context& ctx) {
  CLI::App* sub =
      app.add_subcommand("stop", "Stop the node gracefully and wait for its confirmation");
  sub->callback([&ctx] { ctx.exit_code = run_stop(ctx); });
}

}  // namespace escmd

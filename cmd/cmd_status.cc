// cmd/cmd_status.cc: `es status`, the node's state as one JSON object.
#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

ExitCode run_status(Context& ctx) {
  auto client = ctx.connect();
  auto s = client->status();
  if (!s.ok()) return ctx.fail(s.status());
  std::string out = ObjectWriter(ctx.text())
                        .field("role", s->role)
                        .field("version", s->version)
                        .field("head", s->head)
                        .field("streams", s->streams)
                        .field("store_bytes", s->store_bytes)
                        .field("map_bytes", s->map_bytes)
                        .field("uptime_s", static_cast<double>(s->uptime_us) / 1e6)
                        .field("clients", s->clients)
                        .field("subscribers", s->subscribers)
                        .field("appends", s->appends)
                        .field("conflicts", s->conflicts)
                        .field("data", s->data)
                        .field("listen", s->listen)
                        .field("publish", s->publish)
                        .field("durability", s->durability)
                        .str();
  ctx.emit(out);
  return ExitCode::kSuccess;
}

}  // namespace

void register_status(CLI::App& app, Context& ctx) {
  CLI::App* sub = app.add_subcommand(
      "status", "Show the node's role, head, streams, size, uptime and connections");
  sub->callback([&ctx] { ctx.exit_code = run_status(ctx); });
}

}  // namespace escmd

// cmd/cmd_streams.cc: `es streams [--prefix P]`, one line per stream, by name.
#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

ExitCode run_streams(const std::string& prefix, Context& ctx) {
  auto client = ctx.connect();
  es::protocol::StreamsRequest rq{prefix, "", 1000};
  TextTable table({"STREAM", "VERSION", "POSITION"});
  for (;;) {
    auto page = client->streams(rq);
    if (!page.ok()) return ctx.fail(page.status());
    for (const auto& s : page->streams) {
      const bool open = ctx.text() ? table.add({s.stream, std::to_string(s.last_version),
                                                std::to_string(s.last_position)},
                                               ctx)
                                   : ctx.emit(stream_line(s));
      if (!open) return ExitCode::kSuccess;
    }
    if (page->end || page->streams.empty()) break;
    rq.after = page->streams.back().stream;
  }
  if (ctx.text()) table.finish(ctx);
  return ExitCode::kSuccess;
}

}  // namespace

void register_streams(CLI::App& app, Context& ctx) {
  auto prefix = std::make_shared<std::string>();
  CLI::App* sub =
      app.add_subcommand("streams", "List streams with their last version and position");
  sub->add_option("--prefix", *prefix, "Only streams whose name starts with PREFIX")
      ->type_name("PREFIX");
  sub->callback([prefix, &ctx] { ctx.exit_code = run_streams(*prefix, ctx); });
}

}  // namespace escmd

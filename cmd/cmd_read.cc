// cmd/cmd_read.cc: `es read STREAM | --all`, NDJSON out, page by page.
#include <optional>

#include "cli/options.h"
#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

struct ReadArgs {
  std::string stream;
  bool all = false;
  std::optional<std::uint64_t> from;
  bool backwards = false;
  std::optional<std::uint64_t> limit;
  std::vector<std::string> types;
  std::string category;
};

ExitCode run_read(const ReadArgs& args, Context& ctx) {
  if (args.stream.empty() == !args.all) return ctx.usage("give a STREAM or --all (one of them)");
  if (!args.category.empty() && !args.all) return ctx.usage("--category goes with --all");
  auto client = ctx.connect();
  es::ReadRequest rq;
  rq.stream = args.stream;
  rq.backwards = args.backwards;
  rq.types = args.types;
  rq.category = args.category;
  rq.from_end = args.backwards && !args.from;
  rq.from = args.from.value_or(args.all ? 1 : 0);
  std::uint64_t left = args.limit.value_or(UINT64_MAX);
  while (left > 0) {
    rq.limit = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, es::kMaxReadLimit));
    auto page = client->read(rq);
    if (!page.ok()) return ctx.fail(page.status());
    for (const auto& e : page->events) {
      if (!ctx.emit(event_line(e, ctx.text()))) return ExitCode::kSuccess;
    }
    left -= std::min<std::uint64_t>(left, page->events.size());
    if (page->end) break;
    rq.from = page->next;
    rq.from_end = false;
  }
  return ExitCode::kSuccess;
}

}  // namespace

void register_read(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ReadArgs>();
  CLI::App* sub =
      app.add_subcommand("read", "Read a stream, or the whole log with --all, as NDJSON");
  sub->add_option("stream", args->stream, "Stream to read")
      ->check(escli::not_empty("STREAM"))
      ->type_name("STREAM");
  sub->add_flag("--all", args->all, "Read the whole log in position order");
  sub->add_option("-f,--from", args->from, "First version (stream) or position (--all) to read")
      ->check(escli::whole_number())
      ->type_name("N");
  sub->add_flag("-b,--backwards", args->backwards,
                "Read from the end (or --from) towards the start");
  sub->add_option("-n,--limit", args->limit, "Print at most N events")
      ->check(escli::whole_number())
      ->type_name("N");
  sub->add_option("--type", args->types, "Only events of this type (repeatable)")
      ->check(escli::not_empty("--type"))
      ->type_name("TYPE")
      ->allow_extra_args(false);
  sub->add_option("--category", args->category, "Only streams of this category (with --all)")
      ->check(escli::not_empty("--category"))
      ->type_name("CATEGORY");
  sub->callback([args, &ctx] { ctx.exit_code = run_read(*args, ctx); });
}

}  // namespace escmd

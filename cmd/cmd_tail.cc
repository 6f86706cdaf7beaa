// cmd/cmd_tail.cc: `es tail [STREAM|--category C|--all]`
//
// Prints every event appended from now on (or from --from, then live), one
// line per event, flushed per line, in position order with no gap and no
// duplicate (es::Subscription), until interrupted: SIGINT/SIGTERM exit 0.
#include <csignal>

#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

struct TailArgs {
  std::string stream;
  bool all = false;
  std::string category;
  std::vector<std::string> types;
  std::string from = "end";
};

ExitCode run_tail(const TailArgs& args, Context& ctx) {
  if (!args.stream.empty() && (args.all || !args.category.empty())) {
    return ctx.usage("give a STREAM, --category or --all (one of them)");
  }
  if (args.all && !args.category.empty()) return ctx.usage("give --category or --all, not both");
  auto client = ctx.connect();
  es::Position from = 1;
  if (args.from == "end") {
    auto head = es::Subscription::head(*client);
    if (!head.ok()) return ctx.fail(head.status());
    from = *head + 1;
  } else if (args.from != "start") {
    try {
      std::size_t used = 0;
      from = std::stoull(args.from, &used);
      if (used != args.from.size()) throw std::invalid_argument(args.from);
    } catch (const std::exception&) {
      return ctx.usage("--from takes a position, start or end, not '" + args.from + "'");
    }
  }
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  es::Subscription sub(*client, es::SubscriptionFilter{args.stream, args.category, args.types},
                       from);
  es::Status s =
      sub.run([&](const es::RecordedEvent& e) { return ctx.emit(event_line(e, ctx.text()), true); },
              g_interrupted);
  if (!s.ok() && !g_interrupted) return ctx.fail(s);
  return ExitCode::kSuccess;
}

}  // namespace

void register_tail(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<TailArgs>();
  CLI::App* sub = app.add_subcommand(
      "tail", "Print events as they are appended (from now on, or --from a position)");
  sub->add_option("stream", args->stream, "Only this stream")->type_name("STREAM");
  sub->add_flag("--all", args->all, "Every stream (the default)");
  sub->add_option("--category", args->category, "Only streams of this category")
      ->type_name("CATEGORY");
  sub->add_option("--type", args->types, "Only events of this type (repeatable)")
      ->type_name("TYPE")
      ->allow_extra_args(false);
  sub->add_option("--from", args->from, "Where to start: a position, start or end (default end)")
      ->type_name("POSITION");
  sub->callback([args, &ctx] { ctx.exit_code = run_tail(*args, ctx); });
}

}  // namespace escmd

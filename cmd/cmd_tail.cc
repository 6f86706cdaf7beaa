// cmd/cmd_tail.cc: `es tail [STREAM | --stream S | --category C | --all]`
//
// Prints every committed event that matches, one line per event, flushed per
// line, in position order with no gap and no duplicate (es::Subscription):
// from --from (default: the end), then live, through restarts of the node.
// Ends with 0 on SIGINT/SIGTERM, after --count events, at the head with
// --until-head, or when stdout closes; with 5 when the node is lost and
// --no-reconnect is given. A named subscription (--name) saves its
// checkpoint on the node before it exits.
#include <csignal>
#include <cstdio>
#include <optional>

#include "es/group_subscription.h"
#include "es/subscription.h"

#include "cli/options.h"
#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted = true; }

struct TailArgs {
  std::string stream;
  std::string stream_option;
  bool all = false;
  std::string category;
  std::vector<std::string> types;
  std::string from = "end";
  std::optional<std::uint64_t> count;
  bool until_head = false;
  std::string name;
  std::string group;
  bool no_reconnect = false;
  bool stats = false;
};

// Parses --from: a position, start or end.
es::Status parse_from(const std::string& text, es::SubscriptionOptions* options) {
  if (text == "end") {
    options->from_end = true;
    return {};
  }
  if (text == "start") {
    options->from = 1;
    return {};
  }
  try {
    std::size_t used = 0;
    options->from = std::stoull(text, &used);
    if (used == text.size() && text[0] != '-') return {};
  } catch (const std::exception&) {
  }
  return es::Status::invalid("--from takes a position, start or end, not '" + text + "'");
}

ExitCode run_tail(TailArgs args, Context& ctx) {
  if (!args.stream.empty() && !args.stream_option.empty())
    return ctx.usage("give the stream once: as STREAM or as --stream");
  if (args.stream.empty()) args.stream = args.stream_option;
  int scopes = !args.stream.empty() + args.all + !args.category.empty();
  if (scopes > 1) return ctx.usage("give one of STREAM, --stream, --category and --all");
  if (!args.name.empty() && !args.group.empty())
    return ctx.usage("give --name or --group, not both");
  if (args.name.rfind('$', 0) == 0)
    return ctx.usage("--name: names that start with $ are reserved");
  es::SubscriptionOptions options;
  options.filter = es::SubscriptionFilter{args.stream, args.category, args.types};
  if (es::Status s = parse_from(args.from, &options); !s.ok()) return ctx.usage(s.message());
  options.name = args.name;
  options.until_head = args.until_head;
  options.reconnect = !args.no_reconnect;
  options.on_notice = [](const std::string& what) {
    std::fprintf(stderr, "es: tail: %s\n", what.c_str());
  };

  struct sigaction sa {};
  sa.sa_handler = on_interrupt;  // no SA_RESTART: a wait ends with EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  auto client = ctx.connect();
  std::uint64_t left = args.count.value_or(0);
  auto deliver = [&](const es::RecordedEvent& e) {
    if (!ctx.emit(event_line(e, ctx.text()), true)) return es::Delivery::kRefused;
    if (args.count && --left == 0) return es::Delivery::kStop;
    return es::Delivery::kContinue;
  };
  es::Status s;
  es::SubscriptionStats stats;
  es::Position next = 0;
  if (args.group.empty()) {
    es::Subscription sub(*client, std::move(options));
    s = sub.run(deliver, g_interrupted);
    stats = sub.stats();
    next = sub.next_position();
  } else {
    es::GroupSubscription member(*client, std::move(options), es::GroupOptions{args.group, {}});
    s = member.run(deliver, g_interrupted);
    stats = member.stats();
    next = member.next_position();
  }
  if (args.stats) {
    std::string line = ObjectWriter(false)
                           .field("delivered", stats.delivered)
                           .field("live", stats.live)
                           .field("reads", stats.reads)
                           .field("gaps", stats.gaps)
                           .field("reconnects", stats.reconnects)
                           .field("next", next)
                           .str();
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  if (!s.ok()) return ctx.fail(s);
  return ExitCode::kSuccess;
}

}  // namespace

void register_tail(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<TailArgs>();
  CLI::App* sub = app.add_subcommand(
      "tail",
      "Print events as they are committed, from now on or --from a position, with no gap and "
      "no duplicate");
  sub->add_option("stream", args->stream, "Only this stream")
      ->check(escli::not_empty("STREAM"))
      ->type_name("STREAM");
  sub->add_option("--stream", args->stream_option, "Only this stream (as the argument)")
      ->check(escli::not_empty("--stream"))
      ->type_name("STREAM");
  sub->add_flag("--all", args->all, "Every stream (the default)");
  sub->add_option("--category", args->category, "Only streams of this category")
      ->check(escli::not_empty("--category"))
      ->type_name("CATEGORY");
  sub->add_option("--type", args->types, "Only events of this type (repeatable)")
      ->check(escli::not_empty("--type"))
      ->type_name("TYPE")
      ->allow_extra_args(false);
  sub->add_option("--from", args->from,
                  "Where to start: a position, start or end (default end: new events only)")
      ->type_name("POSITION");
  sub->add_option("-n,--count", args->count, "Exit after printing N events")
      ->check(escli::whole_number(1))
      ->type_name("N");
  sub->add_flag("--until-head", args->until_head,
                "Exit once caught up with the head as of the start (replay history)");
  sub->add_option("--name", args->name,
                  "Durable subscription: resume after the checkpoint the node keeps for NAME, "
                  "and move it as events are written out")
      ->check(escli::not_empty("--name"))
      ->type_name("NAME");
  sub->add_option("--group", args->group,
                  "Competing consumers: share the matching streams with the other members of "
                  "group G, each stream to one member, in order")
      ->check(escli::not_empty("--group"))
      ->type_name("GROUP");
  sub->add_flag("--no-reconnect", args->no_reconnect,
                "Exit with 5 when the node stops or goes silent, instead of waiting for it");
  sub->add_flag("--stats", args->stats,
                "At exit, print to stderr a JSON line of what the subscription did: events "
                "delivered, live, store reads, gaps repaired, reconnects");
  sub->callback([args, &ctx] { ctx.exit_code = run_tail(*args, ctx); });
}

}  // namespace escmd

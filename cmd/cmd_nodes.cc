// cmd/cmd_nodes.cc: `es nodes` (and `es status --cluster`): every node
// reachable from the given ones, with role, state, head, lag and
// projections; --watch redraws it in place on a terminal, like top.
#include <chrono>
#include <ctime>
#include <thread>

#include <fmt/format.h>

#include "cli/options.h"
#include "commands.h"
#include "view/cluster.h"

#include <unistd.h>

namespace escmd {

using es::view::collect_nodes;
using es::view::node_line;
using es::view::NodeView;
using es::view::table_header;
namespace {

// A node that does not answer within this long shows as unreachable.
constexpr std::chrono::milliseconds kNodeTimeout(1000);

void print_round(Context& ctx, const std::vector<NodeView>& nodes, bool redraw) {
  if (redraw) {
    std::time_t now = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof when, "%H:%M:%S", std::localtime(&now));
    ctx.emit(std::string("\033[H\033[2J") + "es nodes, " + when + " (Ctrl-C to quit)\n");
    ctx.emit(table_header(nodes));
    for (const auto& n : nodes) ctx.emit(node_line(n, true));
    ctx.flush();
    return;
  }
  if (ctx.text()) ctx.emit(table_header(nodes));
  for (const auto& n : nodes) ctx.emit(node_line(n, ctx.text()));
  ctx.flush();
}

}  // namespace

ExitCode run_nodes(Context& ctx, const NodesArgs& args) {
  std::vector<std::string> seeds = args.endpoints;
  if (seeds.empty()) seeds.push_back(ctx.server);
  es::ClientOptions options = ctx.client_options();
  options.timeout = std::min(kNodeTimeout, options.timeout);
  const bool redraw = args.watch && ::isatty(STDOUT_FILENO) == 1;
  for (std::uint64_t round = 0;; ++round) {
    const auto started = std::chrono::steady_clock::now();
    auto nodes = collect_nodes(seeds, options);
    print_round(ctx, nodes, redraw);
    if (ctx.stdout_closed()) return ExitCode::kSuccess;
    if (!args.watch || (args.count != 0 && round + 1 >= args.count)) {
      bool any_up = std::any_of(nodes.begin(), nodes.end(), [](const auto& n) { return n.up; });
      if (!any_up && !args.watch) {
        return ctx.fail(es::Status::unavailable("no node answered (asked " +
                                                fmt::format("{}", fmt::join(seeds, ", ")) + ")"));
      }
      return ExitCode::kSuccess;
    }
    std::this_thread::sleep_until(
        started + std::chrono::milliseconds(static_cast<long>(args.interval_s * 1000)));
  }
}

void add_nodes_options(CLI::App& sub, NodesArgs& args) {
  sub.add_flag("--watch", args.watch,
               "Refresh every --interval seconds (in place on a terminal, like top)");
  sub.add_option("--interval", args.interval_s,
                 "Seconds between refreshes with --watch (default 1)")
      ->check(escli::seconds(0.1, 3600))
      ->type_name("SECONDS");
  sub.add_option("--count", args.count, "With --watch: stop after N refreshes (default: never)")
      ->check(escli::whole_number(1))
      ->type_name("N");
}

void register_nodes(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<NodesArgs>();
  CLI::App* sub = app.add_subcommand(
      "nodes",
      "Show every node reachable from the given ones: role, state, head, lag, projections");
  sub->add_option("endpoints", args->endpoints, "Nodes to start from (default: --server)")
      ->check(escli::endpoint(es::EndpointUse::kConnect))
      ->type_name("ENDPOINT");
  add_nodes_options(*sub, *args);
  sub->callback([args, &ctx] { ctx.exit_code = run_nodes(ctx, *args); });
}

}  // namespace escmd

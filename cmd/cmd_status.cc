// cmd/cmd_status.cc: `es status`, the node's state as one JSON object;
// with --cluster, every node reachable from it (as `es nodes`).
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

constexpr auto kRetry = std::chrono::milliseconds(50);

// The node's status; with `wait`, a node that is not listening yet (being
// started) is asked again until it answers or --timeout has passed.
es::Result<es::protocol::StatusReply> ask_status(const Context& ctx, bool wait) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(ctx.timeout_s);
  for (;;) {
    auto s = ctx.connect()->status();
    if (s.ok() || !wait || s.status().code() != es::Code::kUnavailable) return s;
    if (Clock::now() + kRetry >= deadline) {
      return es::Status::unavailable(fmt::format("waited {:g} s (--timeout) for {}: {}",
                                                 ctx.timeout_s, ctx.server, s.status().message()));
    }
    std::this_thread::sleep_for(kRetry);
  }
}

ExitCode run_status(Context& ctx, bool wait) {
  auto s = ask_status(ctx, wait);
  if (!s.ok()) return ctx.fail(s.status());
  ctx.emit(status_line(*s, ctx.text()));
  return ExitCode::kSuccess;
}

}  // namespace

void register_status(CLI::App& app, Context& ctx) {
  auto cluster = std::make_shared<bool>(false);
  auto wait = std::make_shared<bool>(false);
  auto nodes = std::make_shared<NodesArgs>();
  CLI::App* sub = app.add_subcommand(
      "status", "Show the node's role, head, streams, size, uptime, connections and replicas");
  sub->add_flag("--cluster", *cluster,
                "Every node reachable from this one, a line each (as es nodes)");
  sub->add_flag("--wait", *wait,
                "Wait for a node that is starting: ask again while nothing listens, until "
                "--timeout");
  add_nodes_options(*sub, *nodes);
  sub->callback([&ctx, cluster, nodes, wait] {
    if (!*cluster && nodes->watch) {
      ctx.exit_code = ctx.usage("--watch goes with --cluster (or use es nodes --watch)");
      return;
    }
    if (*cluster && *wait) {
      ctx.exit_code = ctx.usage("--wait is for one node (es status --wait), not --cluster");
      return;
    }
    ctx.exit_code = *cluster ? run_nodes(ctx, *nodes) : run_status(ctx, *wait);
  });
}

}  // namespace escmd

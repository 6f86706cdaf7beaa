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

std::string replicas_json(const std::vector<es::protocol::ReplicaInfo>& replicas, bool text) {
  std::string out = text ? "" : "[";
  for (const auto& r : replicas) {
    if (text) {
      out += fmt::format("{}{} ({}, head {}, {:.1f} s ago{})", out.empty() ? "" : ", ", r.listen,
                         r.role, r.head, static_cast<double>(r.age_ms) / 1e3,
                         r.stopping ? ", stopping" : "");
    } else {
      if (out.size() > 1) out += ',';
      out += ObjectWriter(false)
                 .field("listen", r.listen)
                 .field("role", r.role)
                 .field("head", r.head)
                 .field("seen_s", static_cast<double>(r.age_ms) / 1e3)
                 .field("stopping", r.stopping)
                 .str();
    }
  }
  if (text) return out.empty() ? "-" : out;
  return out + "]";
}

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
  ObjectWriter w(ctx.text());
  w.field("role", s->role)
      .field("version", s->version)
      .field("head", s->head)
      .time_us("head_time_us", s->head_time_us)
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
      .field("durability", s->durability);
  if (!s->primary.empty()) {
    w.field("primary", s->primary)
        .field("follow", s->follow_state)
        .field("primary_head", s->primary_head)
        .field("primary_contact_s", seconds_ago(s->primary_contact_ms));
    if (!s->follow_error.empty()) w.field("follow_error", s->follow_error);
  }
  if (!s->source.empty()) add_source_fields(w, *s);
  w.raw("replicas", replicas_json(s->replicas, false), replicas_json(s->replicas, true));
  ctx.emit(w.str());
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

// cmd/cmd_project.cc: projections hosted by a node, and their states.
//   es project add NAME FILE | list | status NAME | reset NAME [FILE]
//              | stop NAME | start NAME | rm NAME
//   es state NAME [KEY] [--at POSITION]
// A projection's line: {"name","status","position","head","lag","partitions",
// "events_per_s","generation","rebuilding"[,"rebuild_position"][,"error"]}.
#include <fstream>
#include <optional>
#include <sstream>

#include "cli/options.h"
#include "commands.h"
#include "output.h"
#include "replay.h"

namespace escmd {
namespace {

std::string info_line(const es::protocol::ProjectionInfo& i, bool text) {
  ObjectWriter w(text);
  w.field("name", i.name).field("status", i.status).field("position", i.position);
  w.field("head", i.head).field("lag", i.head > i.position ? i.head - i.position : 0);
  w.field("partitions", i.partitions).field("events_per_s", i.events_per_s);
  w.field("generation", static_cast<std::uint64_t>(i.generation)).field("rebuilding", i.rebuilding);
  if (i.rebuilding) w.field("rebuild_position", i.rebuild_position);
  if (!i.error.empty()) w.field("error", i.error).field("error_position", i.error_position);
  return w.str();
}

struct ProjectArgs {
  std::string name;
  std::string file;
};

ExitCode run_add(const ProjectArgs& a, Context& ctx) {
  auto source = es::Projection::read_source(a.file);
  if (!source.ok()) return ctx.fail(source.status());
  auto client = ctx.connect();
  auto info = client->projection_add({a.name, *source});
  if (!info.ok()) return ctx.fail(info.status());
  ctx.emit(info_line(*info, ctx.text()));
  return ExitCode::kSuccess;
}

ExitCode run_control(const ProjectArgs& a, const std::string& op, Context& ctx) {
  std::string source;
  if (!a.file.empty()) {
    auto text = es::Projection::read_source(a.file);
    if (!text.ok()) return ctx.fail(text.status());
    source = std::move(text).value();
  }
  auto client = ctx.connect();
  auto info = client->projection_control({a.name, op, source});
  if (!info.ok()) return ctx.fail(info.status());
  ctx.emit(info_line(*info, ctx.text()));
  return ExitCode::kSuccess;
}

ExitCode run_list(const std::string& name, Context& ctx) {
  auto client = ctx.connect();
  auto list = client->projections({name});
  if (!list.ok()) return ctx.fail(list.status());
  for (const auto& i : list->projections) {
    if (!ctx.emit(info_line(i, ctx.text()))) break;
  }
  return ExitCode::kSuccess;
}

struct StateArgs {
  std::string name;
  std::optional<std::string> key;
  std::optional<std::uint64_t> at;
};

// --at: the projection's file from the node, replayed here up to POSITION.
ExitCode run_state_at(const StateArgs& a, es::Client& client, Context& ctx) {
  auto list = client.projections({a.name});
  if (!list.ok()) return ctx.fail(list.status());
  const std::string source = list->projections.front().source;
  return in_sandbox(ctx, a.name, [&](es::Watchdog& watchdog, const es::SandboxLimits& limits) {
    auto p = es::compile_watched(source, a.name, watchdog, limits);
    if (!p.ok()) return ctx.fail(p.status());
    auto own = ctx.connect();  // the parent's client is not this process's
    return replay_and_print(**p, *own, 1, a.at, a.key, ctx, &watchdog, limits.event_cpu);
  });
}

ExitCode run_state(const StateArgs& a, Context& ctx) {
  auto client = ctx.connect();
  if (a.at) return run_state_at(a, *client, ctx);
  es::protocol::ProjectionStateRequest rq;
  rq.name = a.name;
  rq.has_key = a.key.has_value();
  rq.key = a.key.value_or("");
  rq.limit = static_cast<std::uint32_t>(es::kMaxReadLimit);
  for (;;) {
    auto page = client->projection_state(rq);
    if (!page.ok()) return ctx.fail(page.status());
    for (const auto& e : page->partitions) {
      if (!ctx.emit(partition_line(e.key, e.state))) return ExitCode::kSuccess;
    }
    if (page->end || page->partitions.empty()) return ExitCode::kSuccess;
    rq.after = page->partitions.back().key;
  }
}

}  // namespace

void register_project(CLI::App& app, Context& ctx) {
  CLI::App* project =
      app.add_subcommand("project", "Manage the projections (read models in jq) a node hosts");
  project->require_subcommand(1);
  project->fallthrough();
  auto add_named = [&](const char* name, const char* what, bool with_file, bool file_required,
                       auto run) {
    auto args = std::make_shared<ProjectArgs>();
    CLI::App* sub = project->add_subcommand(name, what);
    sub->add_option("name", args->name, "The projection's name")->required()->type_name("NAME");
    if (with_file) {
      auto* file =
          sub->add_option("file", args->file, "The projection file (jq)")->type_name("FILE");
      if (file_required) file->required();
    }
    sub->callback([args, &ctx, run] { ctx.exit_code = run(*args, ctx); });
  };
  add_named("add", "Host a projection: fold the log into its read model, from the start, then live",
            true, true, [](const ProjectArgs& a, Context& c) { return run_add(a, c); });
  add_named("status", "Show a projection: checkpoint, head, lag, partitions, events/s, errors",
            false, false, [](const ProjectArgs& a, Context& c) { return run_list(a.name, c); });
  add_named("reset", "Rebuild from the start (with FILE's new program), swapped in once caught up",
            true, false,
            [](const ProjectArgs& a, Context& c) { return run_control(a, "reset", c); });
  add_named("stop", "Stop folding events (queries go on)", false, false,
            [](const ProjectArgs& a, Context& c) { return run_control(a, "stop", c); });
  add_named("start", "Start again a stopped or failed projection", false, false,
            [](const ProjectArgs& a, Context& c) { return run_control(a, "start", c); });
  add_named("rm", "Remove a projection and its states", false, false,
            [](const ProjectArgs& a, Context& c) { return run_control(a, "rm", c); });
  CLI::App* list = project->add_subcommand("list", "List the projections, one line each");
  list->callback([&ctx] { ctx.exit_code = run_list("", ctx); });
}

void register_state(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<StateArgs>();
  CLI::App* sub = app.add_subcommand(
      "state", "Print a hosted projection's states: every partition, or one (KEY)");
  sub->add_option("name", args->name, "The projection's name")->required()->type_name("NAME");
  sub->add_option("key", args->key, "Only this partition (exit 4 if it has none)")
      ->type_name("KEY");
  sub->add_option("--at", args->at,
                  "The states as they were at POSITION: the projection's file replayed here")
      ->check(escli::whole_number(1))
      ->type_name("POSITION");
  sub->callback([args, &ctx] { ctx.exit_code = run_state(*args, ctx); });
}

}  // namespace escmd

// cmd/cmd_project.cc: projections hosted by a node, and their states.
//   es project add NAME FILE | list | status NAME | reset NAME [FILE]
//              | stop NAME | start NAME | rm NAME
//   es state NAME [KEY] [--at POSITION]
// A projection's line: {"name","status","position","head","lag","partitions",
// "events_per_s","generation","rebuilding"[,"rebuild_position"][,"error"]
// [,"link","link_since"]} (link: on a read node, its link to its source).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "es/json.h"

#include "cli/options.h"
#include "commands.h"
#include "output.h"
#include "progress.h"
#include "replay.h"

namespace escmd {
namespace {

// On a read node whose source does not answer, the source's head is not
// known: neither is the lag.
std::optional<std::uint64_t> lag_of(const es::protocol::ProjectionInfo& i) {
  if (!i.link.empty() && i.link != "connected") return std::nullopt;
  return i.head > i.position ? i.head - i.position : 0;
}

std::string info_line(const es::protocol::ProjectionInfo& i) {
  ObjectWriter w(false);
  w.field("name", i.name).field("status", i.status).field("position", i.position);
  w.field("head", i.head);
  if (const auto lag = lag_of(i)) {
    w.field("lag", *lag);
  } else {
    w.raw("lag", "null", "-");
  }
  w.field("partitions", i.partitions).field("events_per_s", i.events_per_s);
  w.field("generation", static_cast<std::uint64_t>(i.generation)).field("rebuilding", i.rebuilding);
  if (i.rebuilding) w.field("rebuild_position", i.rebuild_position);
  if (!i.error.empty()) w.field("error", i.error).field("error_position", i.error_position);
  if (!i.link.empty())
    w.field("link", i.link).field("link_since", es::format_time_us(i.link_since_us));
  return w.str();
}

// Projections, a JSON line each, or a table (-o text).
void print_infos(const std::vector<es::protocol::ProjectionInfo>& infos, Context& ctx) {
  if (!ctx.text()) {
    for (const auto& i : infos) {
      if (!ctx.emit(info_line(i))) return;
    }
    return;
  }
  TextTable table({"NAME", "STATUS", "POSITION", "HEAD", "LAG", "PARTITIONS", "EVENTS/S",
                   "GENERATION", "REBUILD", "ERROR"});
  for (const auto& i : infos) {
    const bool open = table.add(
        {i.name,
         i.link.empty() || i.link == "connected" ? i.status : i.status + " (source " + i.link + ")",
         std::to_string(i.position), std::to_string(i.head),
         lag_of(i) ? std::to_string(*lag_of(i)) : "-", std::to_string(i.partitions),
         fmt::format("{:.1f}", i.events_per_s), std::to_string(i.generation),
         i.rebuilding ? "at " + std::to_string(i.rebuild_position) : "-",
         i.error.empty() ? "-" : i.error},
        ctx);
    if (!open) return;
  }
  table.finish(ctx);
}

struct ProjectArgs {
  std::string name;
  std::string file;
  bool wait = false;
};

// Whether `i` has folded every event up to `target` into the states queries
// read: no rebuild runs beside them.
bool caught_up(const es::protocol::ProjectionInfo& i, es::Position target) {
  return i.position >= target && !i.rebuilding;
}

// --wait: asks for the projection until it has caught up with `target` (the
// head when the command was sent), for at most --timeout. A projection that
// fails or is stopped meanwhile ends the wait with its error.
es::Result<es::protocol::ProjectionInfo> wait_caught_up(es::Client& client,
                                                        es::protocol::ProjectionInfo info,
                                                        const Context& ctx) {
  using Clock = std::chrono::steady_clock;
  const es::Position target = info.head;
  const auto deadline = Clock::now() + std::chrono::duration<double>(ctx.timeout_s);
  Progress progress("project " + info.name + ":", "positions");
  progress.set_total(target);
  while (!caught_up(info, target)) {
    progress.update(info.rebuilding ? info.rebuild_position : info.position);
    if (info.status == "failed")
      return es::Status::invalid("projection " + info.name + " failed: " + info.error);
    if (info.status == "stopped")
      return es::Status::invalid("projection " + info.name + " is stopped at position " +
                                 std::to_string(info.position) + " (es project start " + info.name +
                                 ")");
    if (Clock::now() >= deadline) {
      return es::Status::unavailable(fmt::format(
          "projection {} is at position {} of {} after {:g} s (--timeout)", info.name,
          info.rebuilding ? info.rebuild_position : info.position, target, ctx.timeout_s));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto list = client.projections({info.name});
    if (!list.ok()) return list.status();
    if (list->projections.empty())
      return es::Status::not_found("projection " + info.name + " is gone");
    info = list->projections.front();
  }
  return info;
}

// Prints the projection's line once the node has answered (and, with --wait,
// once it has caught up).
ExitCode print_info(es::Client& client, es::Result<es::protocol::ProjectionInfo> info,
                    const ProjectArgs& a, Context& ctx) {
  if (info.ok() && a.wait) info = wait_caught_up(client, std::move(info).value(), ctx);
  if (!info.ok()) return ctx.fail(info.status());
  print_infos({*info}, ctx);
  return ExitCode::kSuccess;
}

ExitCode run_add(const ProjectArgs& a, Context& ctx) {
  auto source = es::Projection::read_source(a.file);
  if (!source.ok()) return ctx.fail(source.status());
  auto client = ctx.connect();
  return print_info(*client, client->projection_add({a.name, *source}), a, ctx);
}

ExitCode run_control(const ProjectArgs& a, const std::string& op, Context& ctx) {
  std::string source;
  if (!a.file.empty()) {
    auto text = es::Projection::read_source(a.file);
    if (!text.ok()) return ctx.fail(text.status());
    source = std::move(text).value();
  }
  auto client = ctx.connect();
  return print_info(*client, client->projection_control({a.name, op, source}), a, ctx);
}

ExitCode run_list(const std::string& name, Context& ctx) {
  auto client = ctx.connect();
  auto list = client->projections({name});
  if (!list.ok()) return ctx.fail(list.status());
  print_infos(list->projections, ctx);
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

// States read from a projection that has not folded the whole log yet are
// not wrong, but may surprise: say so on stderr, stdout staying the states.
void say_if_behind(es::Client& client, const std::string& name, es::Position position) {
  auto list = client.projections({name});
  if (!list.ok() || list->projections.empty()) return;
  const auto& i = list->projections.front();
  if (i.head <= position) return;
  std::fprintf(stderr,
               "es: state: projection %s is at position %llu of %llu (%llu behind, %s): these "
               "are its states so far (es project add --wait waits for it)\n",
               name.c_str(), static_cast<unsigned long long>(position),
               static_cast<unsigned long long>(i.head),
               static_cast<unsigned long long>(i.head - position), i.status.c_str());
}

ExitCode run_state(const StateArgs& a, Context& ctx) {
  auto client = ctx.connect();
  if (a.at) return run_state_at(a, *client, ctx);
  es::protocol::ProjectionStateRequest rq;
  rq.name = a.name;
  rq.has_key = a.key.has_value();
  rq.key = a.key.value_or("");
  rq.limit = static_cast<std::uint32_t>(es::kMaxReadLimit);
  PartitionPrinter out(ctx);
  for (bool first = true;; first = false) {
    auto page = client->projection_state(rq);
    if (!page.ok()) return ctx.fail(page.status());
    if (first) say_if_behind(*client, a.name, page->position);
    for (const auto& e : page->partitions) {
      if (!out.add(e.key, e.state)) return ExitCode::kSuccess;
    }
    if (page->end || page->partitions.empty()) break;
    rq.after = page->partitions.back().key;
  }
  out.finish();
  return ExitCode::kSuccess;
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
    auto* name_option =
        sub->add_option("name", args->name, "The projection's name")->type_name("NAME");
    // `es project status` alone shows them all, as `es project list`.
    if (std::string_view(name) != "status") name_option->required();
    if (with_file) {
      auto* file =
          sub->add_option("file", args->file, "The projection file (jq)")->type_name("FILE");
      if (file_required) file->required();
    }
    const std::string_view n = name;
    if (n == "add" || n == "reset" || n == "start") {
      sub->add_flag("--wait", args->wait,
                    "Print the line once it has caught up with the head as it was now (exit 5 "
                    "after --timeout)");
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

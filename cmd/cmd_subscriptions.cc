// cmd/cmd_subscriptions.cc: `es subscriptions`, the checkpoints the node
// keeps: a line per named subscription, then a line per competing-consumer
// group (its slots' checkpoints "$group/<G>/<slot>" summarized), each in
// natural order (orders-2 before orders-10); `es subscriptions rm NAME`
// and `es subscriptions rm --group NAME` delete them.
#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

// Natural order: runs of digits compare as numbers ("g2" < "g10").
bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      const std::size_t i0 = i, j0 = j;
      while (i < a.size() && digit(a[i])) ++i;
      while (j < b.size() && digit(b[j])) ++j;
      std::string_view x(a.data() + i0, i - i0), y(b.data() + j0, j - j0);
      while (x.size() > 1 && x[0] == '0') x.remove_prefix(1);
      while (y.size() > 1 && y[0] == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j || (a.size() - i == b.size() - j && a < b);
}

struct GroupSummary {
  std::uint64_t slots = 0;
  es::Position min = 0;
  es::Position max = 0;
};

// "$group/<G>/<slot>" -> G; empty for a named subscription's checkpoint.
std::string group_of(const std::string& name) {
  const std::string prefix = "$group/";
  if (name.rfind(prefix, 0) != 0) return {};
  const auto slash = name.rfind('/');
  return slash > prefix.size() ? name.substr(prefix.size(), slash - prefix.size()) : std::string();
}

ExitCode run_subscriptions(Context& ctx) {
  auto client = ctx.connect();
  auto hello = client->hello();
  if (!hello.ok()) return ctx.fail(hello.status());
  auto list = client->checkpoints();
  if (!list.ok()) return ctx.fail(list.status());
  const es::Position head = hello->head;
  auto lag = [head](es::Position p) { return head > p ? head - p : 0; };
  std::vector<es::Checkpoint> named;
  std::map<std::string, GroupSummary> groups;
  for (const auto& c : list->checkpoints) {
    const std::string group = group_of(c.name);
    if (group.empty()) {
      named.push_back(c);
      continue;
    }
    GroupSummary& g = groups[group];
    g.min = g.slots == 0 ? c.position : std::min(g.min, c.position);
    g.max = std::max(g.max, c.position);
    ++g.slots;
  }
  std::sort(named.begin(), named.end(),
            [](const auto& a, const auto& b) { return natural_less(a.name, b.name); });
  // -o text: one table, subscriptions then groups.
  TextTable table({"NAME", "KIND", "POSITION", "LAG", "SLOTS", "MEMBERS"});
  for (const auto& c : named) {
    const bool open = ctx.text() ? table.add({c.name, "subscription", std::to_string(c.position),
                                              std::to_string(lag(c.position)), "-", "-"},
                                             ctx)
                                 : ctx.emit(ObjectWriter(false)
                                                .field("name", c.name)
                                                .field("position", c.position)
                                                .field("lag", lag(c.position))
                                                .str());
    if (!open) return ExitCode::kSuccess;
  }
  std::vector<std::string> names;
  for (const auto& [name, g] : groups) names.push_back(name);
  std::sort(names.begin(), names.end(), natural_less);
  for (const auto& name : names) {
    const GroupSummary& g = groups[name];
    std::uint64_t members = 0;
    for (const auto& live : list->groups)
      if (live.group == name) members = live.members;
    const bool open =
        ctx.text()
            ? table.add(
                  {name, "group",
                   g.min == g.max ? std::to_string(g.min) : fmt::format("{}..{}", g.min, g.max),
                   std::to_string(lag(g.min)), std::to_string(g.slots), std::to_string(members)},
                  ctx)
            : ctx.emit(ObjectWriter(false)
                           .field("group", name)
                           .field("slots", g.slots)
                           .field("position_min", g.min)
                           .field("position_max", g.max)
                           .field("lag", lag(g.min))
                           .field("members", members)
                           .str());
    if (!open) return ExitCode::kSuccess;
  }
  if (ctx.text()) table.finish(ctx);
  return ExitCode::kSuccess;
}

struct RemoveArgs {
  std::string name;
  std::string group;
};

ExitCode run_remove(const RemoveArgs& args, Context& ctx) {
  if (args.name.empty() == args.group.empty())
    return ctx.usage("es subscriptions rm takes a NAME or --group NAME");
  auto client = ctx.connect();
  const bool group = !args.group.empty();
  auto removed = client->remove_checkpoint({group ? args.group : args.name, group});
  if (!removed.ok()) return ctx.fail(removed.status());
  ObjectWriter w(ctx.text());
  w.field(group ? "group" : "name", group ? args.group : args.name)
      .field("removed", static_cast<std::uint64_t>(removed->removed));
  ctx.emit(w.str());
  return ExitCode::kSuccess;
}

}  // namespace

void register_subscriptions(CLI::App& app, Context& ctx) {
  CLI::App* sub = app.add_subcommand(
      "subscriptions",
      "List named subscriptions and groups (a line each) with their lag; rm deletes one");
  auto args = std::make_shared<RemoveArgs>();
  CLI::App* rm = sub->add_subcommand(
      "rm", "Delete a named subscription's checkpoint, or a group's (--group) without members");
  rm->add_option("name", args->name, "The subscription's name")->type_name("NAME");
  rm->add_option("--group", args->group, "Delete the checkpoints of this group's slots instead")
      ->type_name("GROUP");
  rm->callback([args, &ctx] { ctx.exit_code = run_remove(*args, ctx); });
  sub->callback([&ctx, rm] {
    if (!rm->parsed()) ctx.exit_code = run_subscriptions(ctx);
  });
}

}  // namespace escmd

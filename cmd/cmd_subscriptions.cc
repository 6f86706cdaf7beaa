// cmd/cmd_subscriptions.cc: `es subscriptions`, one line per checkpoint the
// node keeps (named subscriptions, and the slots of groups as
// "$group/<G>/<slot>"), with how far each is behind the head.
#include <fmt/format.h>

#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

ExitCode run_subscriptions(Context& ctx) {
  auto client = ctx.connect();
  auto hello = client->hello();
  if (!hello.ok()) return ctx.fail(hello.status());
  auto list = client->checkpoints();
  if (!list.ok()) return ctx.fail(list.status());
  const es::Position head = hello->head;
  for (const auto& c : list->checkpoints) {
    const std::uint64_t lag = head > c.position ? head - c.position : 0;
    std::string line = ctx.text() ? fmt::format("{} position {} lag {}", c.name, c.position, lag)
                                  : ObjectWriter(false)
                                        .field("name", c.name)
                                        .field("position", c.position)
                                        .field("lag", lag)
                                        .str();
    if (!ctx.emit(line)) return ExitCode::kSuccess;
  }
  return ExitCode::kSuccess;
}

}  // namespace

void register_subscriptions(CLI::App& app, Context& ctx) {
  CLI::App* sub = app.add_subcommand(
      "subscriptions", "List the checkpoints of named subscriptions and groups, with their lag");
  sub->callback([&ctx] { ctx.exit_code = run_subscriptions(ctx); });
}

}  // namespace escmd

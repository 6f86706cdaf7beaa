// cmd/cmd_promote.cc: `es promote`, a replica becomes a primary: an
// operator's act, after the old primary is stopped. Refused while the old
// primary answers (asked from here, and by the replica itself), and when
// the replica is behind what it last saw of it (unless --force).
#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

// How long the old primary is given to answer before it counts as gone.
constexpr std::chrono::milliseconds kPrimaryTimeout(1000);

ExitCode run_promote(Context& ctx, bool force) {
  auto client = ctx.connect();
  auto st = client->status();
  if (!st.ok()) return ctx.fail(st.status());
  if (st->role != "replica" || st->primary.empty())
    return ctx.fail(es::Status::invalid(ctx.server + " is a primary already"));
  es::ClientOptions asking_old = ctx.client_options();
  asking_old.timeout = kPrimaryTimeout;
  es::Client old_primary(st->primary, asking_old);
  if (auto hello = old_primary.hello(); hello.ok()) {
    return ctx.fail(es::Status::invalid(
        "the primary " + st->primary + " still answers (head " + std::to_string(hello->head) +
        "): stop it first (es stop -s " + st->primary + "); promotion never runs two primaries"));
  }
  auto r = client->promote(es::protocol::PromoteRequest{force});
  if (!r.ok()) return ctx.fail(r.status());
  if (ctx.text()) {
    ctx.emit(ctx.server + " is a primary at position " + std::to_string(r->head) +
             " (it followed " + st->primary + ")");
  } else {
    ctx.emit(ObjectWriter(false)
                 .field("promoted", true)
                 .field("node", ctx.server)
                 .field("head", r->head)
                 .field("followed", st->primary)
                 .str());
  }
  return ExitCode::kSuccess;
}

}  // namespace

void register_promote(CLI::App& app, Context& ctx) {
  auto force = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand(
      "promote", "Make a replica (--server) a primary, once its primary is stopped");
  sub->add_flag("--force", *force,
                "Even when the replica is behind the primary's last head it saw (loses the "
                "events it lacks)");
  sub->callback([&ctx, force] { ctx.exit_code = run_promote(ctx, *force); });
}

}  // namespace escmd

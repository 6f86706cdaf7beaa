// cmd/cmd_backup.cc: `es backup DIR`, a hot backup: the node (--server)
// copies its log and its projections into DIR on its own host, at one point
// in time, while it serves (store/backup.h says what the copy holds and
// guarantees), checks the copy, and answers with its head and digest.
// When DIR is on this host too, es checks the copy again itself.
#include <filesystem>

#include <fmt/format.h>

#include "es/digest.h"

#include "cli/options.h"
#include "commands.h"
#include "output.h"
#include "store/backup.h"

namespace escmd {
namespace {

struct BackupArgs {
  std::string dir;
  double max_time_s = 3600;
};

// The check es makes itself when it sees the copy the node reported (the
// same host, or a shared directory): "node" when it cannot, "node, es" when
// it did. A copy that differs from the node's report fails.
es::Result<std::string> check_here(const es::protocol::BackupReply& r) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(r.dir + "/data.mdb", ec);
  if (ec || size != r.log_bytes) return std::string("node");
  auto here = es::store::check_copy(r.dir, r.projections_from.empty()
                                               ? es::store::ProjectionsRead::kThisLog
                                               : es::store::ProjectionsRead::kAnotherLog);
  if (!here.ok()) {
    return es::Status(here.status().code(),
                      "the copy in " + r.dir + " failed es's check: " + here.status().message());
  }
  if (here->head != r.head || here->chain != r.digest) {
    return es::Status::corruption(fmt::format(
        "the copy in {} holds head {} digest {}, but the node reported head {} digest {}", r.dir,
        here->head, es::to_hex(here->chain), r.head, es::to_hex(r.digest)));
  }
  return std::string("node, es");
}

ExitCode run_backup(Context& ctx, const BackupArgs& args) {
  if (!std::filesystem::path(args.dir).is_absolute())
    return ctx.usage("DIR must be an absolute path (on the node's host), not '" + args.dir + "'");
  es::ClientOptions options = ctx.client_options();
  options.timeout = std::chrono::milliseconds(static_cast<long>(args.max_time_s * 1000));
  es::Client client(ctx.server, options);
  auto r = client.backup(es::protocol::BackupRequest{args.dir});
  if (!r.ok()) return ctx.fail(r.status());
  auto checked_by = check_here(*r);
  if (!checked_by.ok()) return ctx.fail(checked_by.status());
  const double took_s = static_cast<double>(r->took_us) / 1e6;
  if (ctx.text()) {
    ctx.emit(fmt::format("{}: head {} digest {}", r->dir, r->head, es::to_hex(r->digest)));
    const std::string highest =
        r->checkpoints == 0 ? "" : fmt::format(" (the highest at {})", r->max_checkpoint);
    ctx.emit(fmt::format(
        "checked by {}: {} events, {} projection checkpoints{}; the head was {} when the backup "
        "began",
        *checked_by, r->events, r->checkpoints, highest, r->acknowledged));
    ctx.emit(fmt::format("copied in {:.3f} s: log {} bytes, projections {} bytes", took_s,
                         r->log_bytes, r->projection_bytes));
  } else {
    ctx.emit(ObjectWriter(false)
                 .field("dir", r->dir)
                 .field("head", r->head)
                 .field("digest", es::to_hex(r->digest))
                 .field("acknowledged", r->acknowledged)
                 .field("events", r->events)
                 .field("checkpoints", r->checkpoints)
                 .field("max_checkpoint", r->max_checkpoint)
                 .field("log_bytes", r->log_bytes)
                 .field("projection_bytes", r->projection_bytes)
                 .field("took_s", took_s)
                 .field("checked_by", *checked_by)
                 .field("projections_from", r->projections_from)
                 .field("node", ctx.server)
                 .str());
  }
  return ExitCode::kSuccess;
}

}  // namespace

void register_backup(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<BackupArgs>();
  CLI::App* sub = app.add_subcommand(
      "backup",
      "Have the node (--server) copy its log and projections into DIR on its host, while it "
      "serves, and check the copy");
  sub->add_option("dir", args->dir, "Absolute path on the node's host; must not exist or be empty")
      ->required()
      ->type_name("DIR");
  sub->add_option("--max-time", args->max_time_s,
                  "Seconds to wait for the node to make and check the copy (default 3600)")
      ->check(escli::seconds())
      ->type_name("SECONDS");
  sub->callback([args, &ctx] { ctx.exit_code = run_backup(ctx, *args); });
}

}  // namespace escmd

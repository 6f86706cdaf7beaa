// cmd/cmd_restore.cc: `es restore BACKUP DATA_DIR`, offline (esd stopped):
// checks a backup (es backup), copies it into a new or empty data
// directory with private modes (store/backup.h: restore_backup), then opens
// the store there as esd would and recomputes its digest, which must be
// the backup's. Refuses a data directory a running esd holds.
#include <fmt/format.h>

#include "es/digest.h"
#include "es/store.h"

#include "commands.h"
#include "output.h"
#include "store/backup.h"

namespace escmd {
namespace {

struct RestoreArgs {
  std::string backup;
  std::string data;
};

ExitCode run_restore(Context& ctx, const RestoreArgs& args) {
  auto backup = es::store::restore_backup(args.backup, args.data);
  if (!backup.ok()) return ctx.fail(backup.status());
  auto store = es::Store::open(args.data, es::StoreOptions{});
  if (!store.ok()) return ctx.fail(store.status());
  auto report = (*store)->verify();
  if (!report.ok()) return ctx.fail(report.status());
  if (report->head != backup->head || report->chain != backup->chain) {
    return ctx.fail(es::Status::corruption(fmt::format(
        "{} holds head {} digest {} after the restore, but the backup has head {} digest {}",
        args.data, report->head, es::to_hex(report->chain), backup->head,
        es::to_hex(backup->chain))));
  }
  if (ctx.text()) {
    ctx.emit(fmt::format("{}: head {} digest {} ({} events checked), from {}", args.data,
                         report->head, es::to_hex(report->chain), report->events, args.backup));
  } else {
    ctx.emit(ObjectWriter(false)
                 .field("data", args.data)
                 .field("backup", args.backup)
                 .field("head", report->head)
                 .field("digest", es::to_hex(report->chain))
                 .field("events", report->events)
                 .field("checkpoints", backup->checkpoints)
                 .str());
  }
  return ExitCode::kSuccess;
}

}  // namespace

void register_restore(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<RestoreArgs>();
  CLI::App* sub = app.add_subcommand(
      "restore",
      "Put a backup (es backup) in place as a new data directory, esd stopped, and check it");
  sub->add_option("backup", args->backup, "The backup's directory")
      ->required()
      ->check(CLI::ExistingDirectory)
      ->type_name("BACKUP");
  sub->add_option("data", args->data, "The data directory to make; must not exist or be empty")
      ->required()
      ->type_name("DATA_DIR");
  sub->callback([args, &ctx] { ctx.exit_code = run_restore(ctx, *args); });
}

}  // namespace escmd

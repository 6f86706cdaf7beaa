// cmd/cmd_forget.cc: `es forget SUBJECT`, erasure of a data subject's
// personal data by destroying its key (es/subject_keys.h), and `es compact
// --data DIR`, which rewrites a stopped node's stores so that freed space
// keeps no old bytes (store/backup.h: compact).
#include <fmt/format.h>

#include "es/subject_keys.h"

#include "cli/options.h"
#include "commands.h"
#include "output.h"
#include "store/backup.h"

namespace escmd {
namespace {

ExitCode run_forget(Context& ctx, const std::string& subject) {
  auto client = ctx.connect();
  auto done = client->forget(es::protocol::ForgetRequest{subject});
  if (!done.ok()) return ctx.fail(done.status());
  const es::Position at = done->streams.empty() ? 0 : done->streams.front().last_position;
  if (ctx.text()) {
    ctx.emit(fmt::format("{} forgotten (position {})", subject, at));
  } else {
    ctx.emit(ObjectWriter(false)
                 .field("subject", subject)
                 .field("forgotten", true)
                 .field("position", at)
                 .str());
  }
  return ExitCode::kSuccess;
}

ExitCode run_compact(Context& ctx, const std::string& dir) {
  auto r = es::store::compact(dir);
  if (!r.ok()) {
    if (r.status().code() == es::Code::kBusy)
      return ctx.fail(es::Status(es::Code::kBusy, r.status().message() + ": stop esd first"));
    return ctx.fail(r.status());
  }
  if (ctx.text()) {
    ctx.emit(
        fmt::format("{}: log {} -> {} bytes, projections {} -> {} bytes, journal {} bytes "
                    "zeroed",
                    dir, r->log_before, r->log_after, r->projections_before, r->projections_after,
                    r->journal_zeroed));
  } else {
    ctx.emit(ObjectWriter(false)
                 .field("data", dir)
                 .field("log_bytes_before", r->log_before)
                 .field("log_bytes", r->log_after)
                 .field("projection_bytes_before", r->projections_before)
                 .field("projection_bytes", r->projections_after)
                 .field("journal_bytes_zeroed", r->journal_zeroed)
                 .str());
  }
  return ExitCode::kSuccess;
}

}  // namespace

void register_forget(CLI::App& app, Context& ctx) {
  auto subject = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "forget",
      "Erase a data subject's personal data: destroy its key on the node and its replicas "
      "(admin)");
  sub->add_option("subject", *subject,
                  "The subject, as events name it in their metadata (\"$subject\")")
      ->required()
      ->check(escli::not_empty("SUBJECT"))
      ->type_name("SUBJECT");
  sub->callback([&ctx, subject] { ctx.exit_code = run_forget(ctx, *subject); });
}

void register_compact(CLI::App& app, Context& ctx) {
  auto dir = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "compact", "Rewrite a stopped node's data directory so that freed space keeps no old bytes");
  sub->add_option("--data", *dir, "The data directory (esd stopped)")->required()->type_name("DIR");
  sub->callback([&ctx, dir] { ctx.exit_code = run_compact(ctx, *dir); });
}

}  // namespace escmd

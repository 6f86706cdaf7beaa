// cmd/cmd_verify.cc: `es verify`, the log's chain digest, recomputed from
// every event: offline from a data directory (--data, esd stopped), or
// online from a node (its events as it serves them, up to its head when
// the verify starts). Two stores with the same events at the same positions
// print the same digest; a difference anywhere changes every digest after it.
#include <filesystem>

#include <fmt/format.h>

#include "es/digest.h"
#include "es/store.h"

#include "cli/options.h"
#include "commands.h"
#include "output.h"
#include "progress.h"
#include "store/backup.h"

namespace escmd {
namespace {

struct VerifyArgs {
  std::string data;
  es::Position at = 0;  // 0: the head
};

// `holes`: of the `events` positions, those whose event was removed
// (deletion, retention): their digest is taken as stored.
ExitCode print(Context& ctx, const std::string& source, es::Position head, const es::Chain& chain,
               std::uint64_t events, std::uint64_t holes) {
  if (ctx.text()) {
    ctx.emit(fmt::format("{} head {} digest {} ({} events checked, {} removed)", source, head,
                         es::to_hex(chain), events, holes));
  } else {
    ctx.emit(ObjectWriter(false)
                 .field("head", head)
                 .field("digest", es::to_hex(chain))
                 .field("events", events)
                 .field("removed", holes)
                 .field("source", source)
                 .str());
  }
  return ExitCode::kSuccess;
}

ExitCode verify_offline(Context& ctx, const std::string& dir, es::Position at) {
  if (!std::filesystem::exists(dir + "/data.mdb"))
    return ctx.fail(es::Status::not_found("no store in " + dir + " (no data.mdb)"));
  if (at == 0 && !std::filesystem::exists(dir + "/journal")) {
    // A backup (es backup): LMDB holds everything. Checked read-only, so
    // that verifying it adds nothing to it (opening the store would make
    // a journal and lock files there).
    auto copy = es::store::check_copy(dir, es::store::ProjectionsRead::kAnotherLog);
    if (!copy.ok()) return ctx.fail(copy.status());
    return print(ctx, dir, copy->head, copy->chain, copy->events, copy->holes);
  }
  auto store = es::Store::open(dir, es::StoreOptions{});
  if (!store.ok()) {
    if (store.status().code() == es::Code::kBusy) {
      return ctx.fail(es::Status(
          es::Code::kBusy, store.status().message() + ": verify a running node with -s ENDPOINT"));
    }
    return ctx.fail(store.status());
  }
  auto report = (*store)->verify(at);
  if (!report.ok()) return ctx.fail(report.status());
  return print(ctx, dir, report->head, report->chain, report->events, report->holes);
}

ExitCode verify_online(Context& ctx, es::Position up_to) {
  auto client = ctx.connect();
  es::ReadRequest rq;
  rq.from = 1;
  rq.limit = static_cast<std::uint32_t>(es::kMaxReadLimit);
  rq.raw = true;  // every position, holes included
  es::ChainVerifier verifier;
  es::Position head = 0;
  bool first = true;
  Progress progress("checked", "events");
  for (;;) {
    auto page = client->read(rq);
    if (!page.ok()) {
      progress.clear();
      return ctx.fail(page.status());
    }
    if (first) {
      head = page->head;  // later appends are not part of this verify
      if (up_to > head) {
        return ctx.fail(es::Status::not_found(
            fmt::format("position {} is past the head {} of {}", up_to, head, ctx.server)));
      }
      if (up_to != 0) head = up_to;
    }
    first = false;
    for (const auto& e : page->events) {
      if (e.position > head) break;
      es::Status s = verifier.next(e);
      if (!s.ok()) {
        progress.clear();
        return ctx.fail(es::Status(s.code(), ctx.server + ": " + s.message()));
      }
    }
    progress.update(verifier.head());
    if (verifier.head() >= head || page->end) break;
    rq.from = page->next;
  }
  progress.clear();
  if (verifier.head() != head) {
    return ctx.fail(es::Status::corruption(fmt::format(
        "{} said its head is {} but served events up to {}", ctx.server, head, verifier.head())));
  }
  return print(ctx, ctx.server, head, verifier.chain(), verifier.head(), verifier.holes());
}

}  // namespace

void register_verify(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* sub = app.add_subcommand(
      "verify",
      "Recompute the log's chain digest from every event and print the head and the digest");
  sub->add_option("--at", args->at,
                  "Stop at this position: its digest, to compare nodes whose heads differ")
      ->check(escli::whole_number(1))
      ->type_name("POSITION");
  sub->add_option("--data", args->data,
                  "Verify this data directory offline (esd stopped); else the node of --server")
      ->type_name("DIR");
  sub->callback([args, &ctx] {
    ctx.exit_code = args->data.empty() ? verify_online(ctx, args->at)
                                       : verify_offline(ctx, args->data, args->at);
  });
}

}  // namespace escmd

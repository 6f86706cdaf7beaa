// cmd/cmd_keygen.cc: `es keygen BASE`, a CurveZMQ key pair for a client or
// a node (es/curve.h): BASE.key (both keys, 0600) and BASE.pub.
#include "es/curve.h"

#include "commands.h"
#include "output.h"

namespace escmd {
namespace {

struct KeygenArgs {
  std::string base;
  bool force = false;
};

ExitCode run_keygen(Context& ctx, const KeygenArgs& args) {
  std::string base = args.base;
  for (const char* ext : {".key", ".pub"}) {  // `es keygen alice.key` means alice
    const std::string e = ext;
    if (base.size() > e.size() && base.compare(base.size() - e.size(), e.size(), e) == 0)
      base.resize(base.size() - e.size());
  }
  auto pair = es::generate_key_pair();
  if (!pair.ok()) return ctx.fail(pair.status());
  if (es::Status s = es::write_key_files(base, *pair, args.force); !s.ok()) return ctx.fail(s);
  ctx.emit(ObjectWriter(ctx.text())
               .field("public_key", pair->public_key)
               .field("key_file", base + ".key")
               .field("public_file", base + ".pub")
               .str());
  return ExitCode::kSuccess;
}

}  // namespace

void register_keygen(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<KeygenArgs>();
  CLI::App* sub = app.add_subcommand(
      "keygen",
      "Make a CurveZMQ key pair: BASE.key (secret, mode 0600) for the client or node that "
      "owns it, BASE.pub for a node's allow-list or a client's --server-key");
  sub->add_option("base", args->base, "The files' path without .key or .pub")
      ->required()
      ->type_name("BASE");
  sub->add_flag("--force", args->force, "Replace BASE.key and BASE.pub when they exist");
  sub->callback([args, &ctx] { ctx.exit_code = run_keygen(ctx, *args); });
}

}  // namespace escmd

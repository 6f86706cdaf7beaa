// cmd/cmd_context.cc: `es context add|ls|show|use|rm`, the named contexts
// of contexts.h.
#include <filesystem>

#include "es/curve.h"

#include "cli/options.h"
#include "commands.h"
#include "contexts.h"
#include "output.h"

namespace escmd {
namespace {

struct AddArgs {
  std::string name, server, output, key, server_key;
  double timeout_s = 0;
  bool force = false;
};

ExitCode run_add(Context& ctx, const AddArgs& args) {
  NamedContext c;
  c.name = args.name;
  c.server = args.server;
  if (args.timeout_s > 0) c.timeout_s = args.timeout_s;
  if (!args.output.empty()) c.output = args.output;
  if (!args.key.empty()) {
    // Kept as an absolute path: the context is used from any directory.
    if (auto pair = es::load_key_pair(args.key); !pair.ok()) return ctx.fail(pair.status());
    c.key = std::filesystem::absolute(args.key).lexically_normal().string();
  }
  if (!args.server_key.empty()) {
    auto key = es::load_public_key(args.server_key);
    if (!key.ok()) return ctx.fail(key.status());
    c.server_key = *key;
  }
  if (c.key.has_value() != c.server_key.has_value())
    return ctx.usage("--key-file and --server-key go together");
  if (es::Status s = save_context(c, args.force); !s.ok()) return ctx.fail(s);
  if (selected_context().empty()) {
    // The first context is the one used, as `nats context add` does.
    if (es::Status s = select_context(c.name); !s.ok()) return ctx.fail(s);
  }
  return ExitCode::kSuccess;
}

// The context's fields (server, timeout, output), as JSON or text.
ObjectWriter& add_fields(ObjectWriter& w, const NamedContext& c) {
  w.field("server", c.server.value_or(""));
  if (c.timeout_s) w.field("timeout", *c.timeout_s);
  if (c.output) w.field("output", *c.output);
  if (c.key) w.field("key_file", *c.key);
  if (c.server_key) w.field("server_key", *c.server_key);
  return w;
}

ExitCode run_ls(Context& ctx) {
  auto names = context_names();
  if (!names.ok()) return ctx.fail(names.status());
  const std::string selected = selected_context();
  std::unique_ptr<TextTable> table;
  if (ctx.text())
    table = std::make_unique<TextTable>(std::vector<std::string>{"", "NAME", "SERVER"});
  for (const std::string& name : *names) {
    auto c = load_context(name);
    // A broken context is listed with its error; the others still show.
    const std::string server = c.ok() ? c->server.value_or("") : "error: " + c.status().message();
    if (table) {
      if (!table->add({name == selected ? "*" : "", name, server}, ctx)) return ExitCode::kSuccess;
      continue;
    }
    ObjectWriter w(false);
    w.field("name", name).field("selected", name == selected);
    if (c.ok()) {
      add_fields(w, *c);
    } else {
      w.field("error", c.status().message());
    }
    if (!ctx.emit(w.str())) return ExitCode::kSuccess;
  }
  if (table) table->finish(ctx);
  return ExitCode::kSuccess;
}

ExitCode run_show(Context& ctx, std::string name) {
  if (name.empty()) name = ctx.context_name.empty() ? selected_context() : ctx.context_name;
  if (name.empty())
    return ctx.fail(es::Status::not_found("no context is selected (es context use NAME)"));
  auto c = load_context(name);
  if (!c.ok()) return ctx.fail(c.status());
  ObjectWriter w(ctx.text());
  w.field("name", name).field("file", context_file(name));
  ctx.emit(add_fields(w, *c).str());
  return ExitCode::kSuccess;
}

ExitCode run_use(Context& ctx, const std::string& name) {
  auto c = load_context(name);
  if (!c.ok()) return ctx.fail(c.status());
  if (es::Status s = select_context(name); !s.ok()) return ctx.fail(s);
  return ExitCode::kSuccess;
}

ExitCode run_rm(Context& ctx, const std::string& name) {
  if (es::Status s = remove_context(name); !s.ok()) return ctx.fail(s);
  return ExitCode::kSuccess;
}

}  // namespace

void register_context(CLI::App& app, Context& ctx) {
  CLI::App* cmd = app.add_subcommand(
      "context", "Named contexts: the server, timeout, output and keys to use (es(1), Contexts)");
  cmd->require_subcommand(1);

  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add = cmd->add_subcommand("add", "Save a context (the first one saved is selected)");
  add->add_option("name", add_args->name, "The context's name")->required();
  add->add_option("-s,--server", add_args->server, "The node's request endpoint")
      ->required()
      ->check(escli::endpoint(es::EndpointUse::kConnect))
      ->type_name("ENDPOINT");
  add->add_option("--timeout", add_args->timeout_s, "Seconds to wait for the node to answer")
      ->check(escli::seconds())
      ->type_name("SECONDS");
  add->add_option("-o,--output", add_args->output, "Output format: json or text")
      ->check(CLI::IsMember({"json", "text"}))
      ->type_name("FORMAT");
  add->add_option("--key-file", add_args->key, "This client's key pair (es keygen makes one)")
      ->type_name("FILE");
  add->add_option("--server-key", add_args->server_key,
                  "The node's public key, or a file holding it (stored as the key itself)")
      ->type_name("KEY|FILE");
  add->add_flag("--force", add_args->force, "Replace a context of that name");
  add->callback([add_args, &ctx] { ctx.exit_code = run_add(ctx, *add_args); });

  CLI::App* ls = cmd->add_subcommand("ls", "List the contexts; * marks the selected one");
  ls->callback([&ctx] { ctx.exit_code = run_ls(ctx); });

  auto name = std::make_shared<std::string>();
  CLI::App* show = cmd->add_subcommand("show", "Show a context (default: the one in use)");
  show->add_option("name", *name, "The context's name");
  show->callback([name, &ctx] { ctx.exit_code = run_show(ctx, *name); });

  CLI::App* use = cmd->add_subcommand("use", "Select the context es uses by default");
  use->add_option("name", *name, "The context's name")->required();
  use->callback([name, &ctx] { ctx.exit_code = run_use(ctx, *name); });

  CLI::App* rm = cmd->add_subcommand("rm", "Remove a context");
  rm->add_option("name", *name, "The context's name")->required();
  rm->callback([name, &ctx] { ctx.exit_code = run_rm(ctx, *name); });
}

}  // namespace escmd

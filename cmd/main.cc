// es: the command-line toolkit for esd. See es(1).
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "cli/options.h"
#include "commands.h"
#include "context.h"

namespace {

// For a parse error where a command was wanted and a word that is none was
// given: what to say instead of CLI11's "A subcommand is required".
std::string command_error(const CLI::App& root) {
  const CLI::App* at = escli::deepest_command(root);
  if (at->get_subcommands({}).empty() || !at->get_subcommands().empty()) return {};
  const std::string path = escli::command_path(*at);
  // A word no command took falls through to a parent's leftovers.
  for (const CLI::App* p = at; p != nullptr; p = p->get_parent()) {
    for (const std::string& word : p->remaining()) {
      if (word.empty()) continue;
      if (word.front() != '-') return escmd::unknown_command_message(*at, path, word);
      return "unknown option " + word + " (`" + path + " --help` lists them)";
    }
  }
  const std::string help = path == "es" ? "es help" : "es help " + path.substr(3);
  return "a command is required (`" + help + "` lists them)";
}

}  // namespace

int main(int argc, char** argv) {
  using escmd::ExitCode;
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe shows as EPIPE, ending quietly
  escmd::Context ctx;
  const auto env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
  };
  const std::string env_server = env("ES_SERVER");
  const bool from_env = !env_server.empty();
  ctx.server = from_env ? env_server : escmd::kDefaultServer;
  const std::string env_key = env("ES_KEY_FILE"), env_server_key = env("ES_SERVER_KEY");
  ctx.key_file = env_key;
  ctx.server_key = env_server_key;

  CLI::App app{"es: append, read and tail events in an esd event store (see es(1))", "es"};
  ctx.root = &app;
  escli::plain_errors(app, "es");
  app.set_version_flag("--version", std::string("es ") + ES_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  escmd::add_global_options(app, ctx);
  for (const auto& command : escmd::kCommands) command.add(app, ctx);
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() != "completion") escmd::add_global_options(*sub, ctx);
  }
  // $ES_SERVER is checked as -s is, and the named context applied, once
  // the command line is parsed, before any command that talks to a node runs.
  app.parse_complete_callback([&] {
    if (app.got_subcommand("help") || app.got_subcommand("completion") ||
        app.got_subcommand("context") || app.got_subcommand("keygen") ||
        app.got_subcommand("compact"))
      return;
    const bool server_from_env = from_env && ctx.server == env_server;
    const escmd::FromEnv env_gave{server_from_env, !env_key.empty() && ctx.key_file == env_key,
                                  !env_server_key.empty() && ctx.server_key == env_server_key};
    if (es::Status s = escmd::apply_named_context(app, ctx, env_gave); !s.ok())
      throw CLI::ValidationError(s.message());
    if (es::Status s = escmd::load_client_keys(ctx); !s.ok())
      throw CLI::ValidationError(s.message());
    if (!server_from_env) return;
    auto parsed = es::parse_endpoint(ctx.server, es::EndpointUse::kConnect);
    if (!parsed.ok()) throw CLI::ValidationError("$ES_SERVER", parsed.status().message());
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // A usage error is 2, but es check's is Nagios's UNKNOWN (context.h).
    const int usage = app.got_subcommand("check") ? static_cast<int>(escmd::NagiosCode::kUnknown)
                                                  : static_cast<int>(ExitCode::kUsage);
    if (e.get_exit_code() != 0) {
      if (std::string message = command_error(app); !message.empty()) {
        ctx.usage(message);
        return usage;
      }
    }
    // CLI11's own codes (105 to 109 and others) become the usage code.
    int code = app.exit(e);
    return code == 0 ? 0 : usage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "es: internal error: %s\n", e.what());
    return static_cast<int>(ExitCode::kFailure);
  }
  ctx.flush();
  return static_cast<int>(ctx.exit_code);
}

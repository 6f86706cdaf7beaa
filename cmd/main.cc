// es: the command-line toolkit for esd. See es(1).
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "context.h"

int main(int argc, char** argv) {
  using escmd::ExitCode;
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe shows as EPIPE, ending quietly
  escmd::Context ctx;
  const char* env_server = std::getenv("ES_SERVER");
  ctx.server = env_server != nullptr && *env_server != '\0' ? env_server : escmd::kDefaultServer;

  CLI::App app{"es: append, read and tail events in an esd event store (see es(1))", "es"};
  ctx.root = &app;
  app.set_version_flag("--version", std::string("es ") + ES_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  escmd::add_global_options(app, ctx);
  for (const auto& command : escmd::kCommands) command.add(app, ctx);
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() != "completion") escmd::add_global_options(*sub, ctx);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105 to 109 and others) become the usage code 2.
    int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ExitCode::kUsage);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "es: internal error: %s\n", e.what());
    return static_cast<int>(ExitCode::kFailure);
  }
  ctx.flush();
  return static_cast<int>(ctx.exit_code);
}

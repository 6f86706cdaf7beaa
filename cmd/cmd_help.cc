// cmd/cmd_help.cc: `es help [COMMAND [SUBCOMMAND]]`, and what es says for
// a command it does not know: the word typed and the nearest command.
#include <cstdio>

#include "es/suggest.h"

#include "commands.h"

namespace escmd {
namespace {

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
  return names;
}

const CLI::App* find_command(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == name) return sub;
  }
  return nullptr;
}

ExitCode run_help(const std::vector<std::string>& words, Context& ctx) {
  const CLI::App* app = ctx.root;
  std::string path = "es", parent_path;
  for (const auto& word : words) {
    const CLI::App* sub = find_command(*app, word);
    if (sub == nullptr) return ctx.usage(unknown_command_message(*app, path, word));
    parent_path = path;
    path += " " + word;
    app = sub;
  }
  // The formatter, not app->help(): that would describe `es help` itself.
  const std::string text = app->get_formatter()->make_help(
      app, app == ctx.root ? path : parent_path + " " + app->get_name(),
      CLI::AppFormatMode::Normal);
  std::fputs(text.c_str(), stdout);
  return ExitCode::kSuccess;
}

}  // namespace

std::string unknown_command_message(const CLI::App& app, const std::string& path,
                                    const std::string& word) {
  std::string message = "unknown command '" + word + "'";
  if (path != "es") message = "'" + path.substr(3) + "' has no command '" + word + "'";
  const std::string near = es::nearest(word, command_names(app));
  if (!near.empty()) return message + "; did you mean '" + near + "'?";
  return message + " (`" + (path == "es" ? std::string("es help") : "es help " + path.substr(3)) +
         "` lists them)";
}

void register_help(CLI::App& app, Context& ctx) {
  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* sub = app.add_subcommand(
      "help", "Print the help of es, or of a command (es help COMMAND [SUBCOMMAND])");
  sub->add_option("command", *words, "The command (and its subcommand) to describe")
      ->type_name("COMMAND");
  sub->callback([words, &ctx] { ctx.exit_code = run_help(*words, ctx); });
}

}  // namespace escmd

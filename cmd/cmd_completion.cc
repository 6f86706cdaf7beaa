// cmd/cmd_completion.cc: `es completion bash|zsh|fish` prints a completion
// script generated from the command tree (see completion.h).
#include <memory>
#include <string>
#include <string_view>

#include "cli/completion.h"
#include "commands.h"

namespace escmd {

void register_completion(CLI::App& app, Context& ctx) {
  auto shell = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("completion", "Print a shell completion script");
  sub->add_option("shell", *shell, "Shell: bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}))
      ->type_name("SHELL");
  sub->callback([shell, &ctx] {
    const CLI::App* root = ctx.root;
    std::string script =
        root != nullptr ? escli::completion_script(*root, *shell, "es completion") : std::string();
    if (script.empty()) {
      ctx.exit_code = ctx.usage("no completion for shell " + *shell);
      return;
    }
    // emit() ends the line itself.
    std::string_view text = script;
    if (text.back() == '\n') text.remove_suffix(1);
    ctx.emit(text, true);
  });
}

}  // namespace escmd

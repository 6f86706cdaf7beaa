// cmd/completion.h: shell completion scripts generated from the CLI11 command
// tree, so that they cannot fall behind the options es really has.
#pragma once

#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace escmd {

// The completion script for `shell` ("bash", "zsh" or "fish") describing the
// subcommands, options and positionals of `root`; "" for any other shell.
// The same tree always gives the same bytes.
std::string completion_script(const CLI::App& root, std::string_view shell);

}  // namespace escmd

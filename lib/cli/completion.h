// cli/completion.h: shell completion scripts generated from a CLI11 command
// tree, so that they cannot fall behind the options es and esd really have.
#pragma once

#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace escli {

// The completion script for `shell` ("bash", "zsh" or "fish") describing the
// subcommands, options and positionals of `root`; "" for any other shell.
// `generator` is the command that prints it, without the shell ("es
// completion", "esd --completion"), named in the script's header. Values
// complete to an IsMember check's members, to stream names (asked from the
// node with `es streams`), or to paths for an option typed FILE or DIR.
// The same tree always gives the same bytes.
std::string completion_script(const CLI::App& root, std::string_view shell,
                              std::string_view generator);

}  // namespace escli

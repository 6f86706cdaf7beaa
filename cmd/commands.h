// cmd/commands.h: a new command is one file (cmd_<name>.cc), one row here
// and a section in man/es.1.scd.
#pragma once

#include <CLI/CLI.hpp>

#include "context.h"

namespace escmd {

void register_append(CLI::App& app, Context& ctx);
void register_read(CLI::App& app, Context& ctx);
void register_tail(CLI::App& app, Context& ctx);
void register_replay(CLI::App& app, Context& ctx);
void register_project(CLI::App& app, Context& ctx);
void register_state(CLI::App& app, Context& ctx);
void register_streams(CLI::App& app, Context& ctx);
void register_subscriptions(CLI::App& app, Context& ctx);
void register_status(CLI::App& app, Context& ctx);
void register_check(CLI::App& app, Context& ctx);
void register_stop(CLI::App& app, Context& ctx);
void register_nodes(CLI::App& app, Context& ctx);
void register_verify(CLI::App& app, Context& ctx);
void register_promote(CLI::App& app, Context& ctx);
void register_bench(CLI::App& app, Context& ctx);
void register_backup(CLI::App& app, Context& ctx);
void register_restore(CLI::App& app, Context& ctx);
void register_completion(CLI::App& app, Context& ctx);
void register_help(CLI::App& app, Context& ctx);
void register_context(CLI::App& app, Context& ctx);
void register_keygen(CLI::App& app, Context& ctx);
void register_delete(CLI::App& app, Context& ctx);
void register_retention(CLI::App& app, Context& ctx);
void register_forget(CLI::App& app, Context& ctx);
void register_compact(CLI::App& app, Context& ctx);

// "unknown command 'apend'; did you mean 'append'?": `word` is not a
// command of `app`, which is `path` ("es", "es project").
std::string unknown_command_message(const CLI::App& app, const std::string& path,
                                    const std::string& word);

// `es nodes`, which `es status --cluster` runs too.
struct NodesArgs {
  std::vector<std::string> endpoints;
  bool watch = false;
  double interval_s = 1.0;
  std::uint64_t count = 0;
};
ExitCode run_nodes(Context& ctx, const NodesArgs& args);
void add_nodes_options(CLI::App& sub, NodesArgs& args);

struct Command {
  const char* name;
  void (*add)(CLI::App&, Context&);
};

inline constexpr Command kCommands[] = {
    {"append", register_append},   {"read", register_read},
    {"tail", register_tail},       {"replay", register_replay},
    {"project", register_project}, {"state", register_state},
    {"streams", register_streams}, {"subscriptions", register_subscriptions},
    {"delete", register_delete},   {"retention", register_retention},
    {"forget", register_forget},   {"compact", register_compact},
    {"status", register_status},   {"check", register_check},
    {"stop", register_stop},       {"nodes", register_nodes},
    {"verify", register_verify},   {"promote", register_promote},
    {"bench", register_bench},     {"backup", register_backup},
    {"restore", register_restore}, {"completion", register_completion},
    {"context", register_context}, {"keygen", register_keygen},
    {"help", register_help},
};

}  // namespace escmd

// cmd/context.h
//
// What every es command shares: the global options, the one mapping from a
// Status to an exit code, and stdout handling (NDJSON, flushed per line when
// tailing; a closed pipe ends the command quietly with exit 0).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "es/client.h"
#include "es/status.h"

namespace escmd {

enum class ExitCode : int {
  kSuccess = 0,
  kFailure = 1,
  kUsage = 2,
  kConflict = 3,
  kNotFound = 4,
  kUnavailable = 5,
  kNotPrimary = 6,  // a write sent to a replica
  kDenied = 7,      // the node refused the key, or the key's role does not cover the request
};

// `es check` exits with the Nagios plugin codes instead, as monitors expect
// (cmd_check.cc; es(1) states the exception): 0 OK, 1 WARNING, 2 CRITICAL,
// 3 UNKNOWN, also for a command line it cannot parse.
enum class NagiosCode : int { kOk = 0, kWarning = 1, kCritical = 2, kUnknown = 3 };
inline ExitCode nagios_exit(int verdict) { return static_cast<ExitCode>(verdict); }

inline constexpr const char* kDefaultServer = "tcp://127.0.0.1:7150";

struct Context {
  std::string server;
  std::string context_name;     // --context NAME
  std::string output = "json";  // json | text
  double timeout_s = 5.0;
  std::string key_file;    // --key-file, $ES_KEY, the context's key
  std::string server_key;  // --server-key, $ES_SERVER_KEY, the context's server-key
  es::CurveClient curve;   // both, loaded (load_client_keys)
  ExitCode exit_code = ExitCode::kSuccess;
  CLI::App* root = nullptr;

  bool text() const { return output == "text"; }
  std::unique_ptr<es::Client> connect() const;
  // The timeout and keys every Client of this command uses.
  es::ClientOptions client_options() const;

  // Prints "es: error: <message>" and returns the exit code for `s`.
  ExitCode fail(const es::Status& s) const;
  ExitCode usage(std::string_view message) const;

  // Writes a line to stdout. Returns false once stdout is closed (EPIPE):
  // the caller stops and exits 0.
  bool emit(std::string_view line, bool flush = false);
  bool stdout_closed() const { return stdout_closed_; }
  // Flushes stdout; false if the pipe is closed.
  bool flush();

 private:
  bool stdout_closed_ = false;
};

ExitCode exit_code_for(es::Code code);

// Adds the global options to `app` (the root, or a subcommand, so that they
// work before or after the command).
void add_global_options(CLI::App& app, Context& ctx);

// Once the command line is parsed: the named context (--context, else
// $ES_CONTEXT, else the selected one; contexts.h) fills in what neither a
// flag nor $ES_SERVER set. A context that does not load is the error.
// Which of the settings came from the environment (ES_SERVER, ES_KEY,
// ES_SERVER_KEY): a context does not override them.
struct FromEnv {
  bool server = false, key = false, server_key = false;
};
es::Status apply_named_context(const CLI::App& root, Context& ctx, FromEnv from_env);

// Loads --key-file and --server-key into ctx.curve (both or neither; a bad file
// or key is the error).
es::Status load_client_keys(Context& ctx);

}  // namespace escmd

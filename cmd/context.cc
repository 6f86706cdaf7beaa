#include "context.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "cli/options.h"
#include "contexts.h"

namespace escmd {

ExitCode exit_code_for(es::Code code) {
  switch (code) {
    case es::Code::kOk:
      return ExitCode::kSuccess;
    case es::Code::kWrongExpectedVersion:
      return ExitCode::kConflict;
    case es::Code::kNotFound:
    case es::Code::kStreamDeleted:
      return ExitCode::kNotFound;
    case es::Code::kUnavailable:
      return ExitCode::kUnavailable;
    case es::Code::kNotPrimary:
      return ExitCode::kNotPrimary;
    case es::Code::kPermissionDenied:
      return ExitCode::kDenied;
    default:
      return ExitCode::kFailure;
  }
}

es::ClientOptions Context::client_options() const {
  return es::ClientOptions{std::chrono::milliseconds(static_cast<long>(timeout_s * 1000)), curve};
}

std::unique_ptr<es::Client> Context::connect() const {
  return std::make_unique<es::Client>(server, client_options());
}

ExitCode Context::fail(const es::Status& s) const {
  std::fprintf(stderr, "es: error: %s\n", s.message().c_str());
  return exit_code_for(s.code());
}

ExitCode Context::usage(std::string_view message) const {
  std::fprintf(stderr, "es: error: %.*s\nRun with --help for more information.\n",
               static_cast<int>(message.size()), message.data());
  return ExitCode::kUsage;
}

bool Context::emit(std::string_view line, bool flush_now) {
  if (stdout_closed_) return false;
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() ||
      std::fputc('\n', stdout) == EOF) {
    stdout_closed_ = true;
    return false;
  }
  return !flush_now || flush();
}

bool Context::flush() {
  if (stdout_closed_) return false;
  if (std::fflush(stdout) != 0) stdout_closed_ = true;
  return !stdout_closed_;
}

void add_global_options(CLI::App& app, Context& ctx) {
  app.add_option("-s,--server", ctx.server,
                 "Node request endpoint (default: $ES_SERVER, else tcp://127.0.0.1:7150)")
      ->check(escli::endpoint(es::EndpointUse::kConnect))
      ->type_name("ENDPOINT");
  app.add_option("-o,--output", ctx.output, "Output format: json or text")
      ->check(CLI::IsMember({"json", "text"}))
      ->type_name("FORMAT");
  app.add_option("--timeout", ctx.timeout_s, "Seconds to wait for the node to answer (default 5)")
      ->check(escli::seconds())
      ->type_name("SECONDS");
  app.add_option("--key-file", ctx.key_file,
                 "This client's CurveZMQ key pair, for a node that takes keys (es keygen "
                 "makes one; default: $ES_KEY_FILE)")
      ->type_name("FILE");
  app.add_option("--server-key", ctx.server_key,
                 "The node's public key, or a file holding it (default: $ES_SERVER_KEY)")
      ->type_name("KEY|FILE");
  app.add_option("--context", ctx.context_name,
                 "Named context to use (default: $ES_CONTEXT, else the one `es context use` "
                 "selected)")
      ->type_name("NAME");
}

namespace {

// Whether option `name` was given to `app` or to a command under it.
bool given(const CLI::App& app, const std::string& name) {
  const CLI::Option* o = app.get_option_no_throw(name);
  if (o != nullptr && o->count() > 0) return true;
  for (const CLI::App* sub : app.get_subcommands())
    if (given(*sub, name)) return true;
  return false;
}

}  // namespace

es::Status apply_named_context(const CLI::App& root, Context& ctx, FromEnv from_env) {
  std::string name = ctx.context_name;
  if (name.empty()) {
    const char* env = std::getenv("ES_CONTEXT");
    name = env != nullptr && *env != '\0' ? env : selected_context();
  }
  if (name.empty()) return {};
  auto c = load_context(name);
  if (!c.ok()) return c.status();
  if (c->server && !from_env.server && !given(root, "--server")) ctx.server = *c->server;
  if (c->key && !from_env.key && !given(root, "--key-file")) ctx.key_file = *c->key;
  if (c->server_key && !from_env.server_key && !given(root, "--server-key"))
    ctx.server_key = *c->server_key;
  if (c->timeout_s && !given(root, "--timeout")) ctx.timeout_s = *c->timeout_s;
  if (c->output && !given(root, "--output")) ctx.output = *c->output;
  return {};
}

es::Status load_client_keys(Context& ctx) {
  if (ctx.key_file.empty() && ctx.server_key.empty()) return {};
  if (ctx.server_key.empty())
    return es::Status::invalid("--key-file " + ctx.key_file +
                               " needs --server-key: the node's public key (its .pub file)");
  if (ctx.key_file.empty())
    return es::Status::invalid(
        "--server-key needs --key-file: this client's key pair (es keygen NAME makes NAME.key)");
  auto pair = es::load_key_pair(ctx.key_file);
  if (!pair.ok()) return es::Status::invalid("--key-file: " + pair.status().message());
  auto server_key = es::load_public_key(ctx.server_key);
  if (!server_key.ok())
    return es::Status::invalid("--server-key: " + server_key.status().message());
  ctx.curve = es::CurveClient{*server_key, std::move(pair).value()};
  return {};
}

}  // namespace escmd

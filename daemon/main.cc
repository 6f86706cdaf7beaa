// esd: the event store daemon. See esd(8).
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "es/endpoint.h"
#include "es/projection_store.h"
#include "es/store.h"
#include "es/subject_keys.h"

#include "cli/completion.h"
#include "cli/options.h"
#include "dashboard.h"
#include "http_listener.h"
#include "logging.h"
#include "metrics.h"
#include "projection_worker.h"
#include "server.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

enum ExitCode {
  kExitOk = 0,
  kExitCannotStart = 1,
  kExitUsage = 2,
  kExitStorageFailed = 3,
  kExitDiverged = 4,
  kExitStoreRefused = 5,
  kExitConfig = 78,  // sysexits' EX_CONFIG: a bad config file or ESD_* variable
};

// Why a store did not open, as an exit status: a store that is damaged, of
// another format, or in a directory others may write will not open on a
// retry (its unit does not restart on 5); a lock held by another esd, an
// I/O error or a full disk may pass (1).
int store_open_failure(const es::Status& s) {
  return s.code() == es::Code::kCorruption || s.code() == es::Code::kInvalidArgument
             ? kExitStoreRefused
             : kExitCannotStart;
}

// Waits for SIGINT/SIGTERM/SIGHUP (blocked in every thread) and tells the
// loop over an inproc PAIR: SIGHUP is a reload, the others stop it. A second
// stop signal ends the process at once: the store is crash-safe, so only
// unacknowledged appends are lost.
void signal_thread(zmq::context_t& ctx, const std::string& endpoint, sigset_t set,
                   std::atomic<bool>& done) {
  zmq::socket_t out(ctx, zmq::socket_type::pair);
  out.set(zmq::sockopt::linger, 0);
  out.connect(endpoint);
  int received = 0;
  timespec tick{0, 200'000'000};
  while (!done.load()) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig <= 0) continue;
    if (sig == SIGHUP) {
      out.send(zmq::buffer(esd::kReloadSignal), zmq::send_flags::dontwait);
      continue;
    }
    if (++received > 1) {
      spdlog::warn("second signal ({}): exiting now", strsignal(sig));
      spdlog::shutdown();
      std::_Exit(kExitCannotStart);
    }
    std::string what = std::string("signal ") + strsignal(sig);
    out.send(zmq::buffer(what), zmq::send_flags::dontwait);
  }
}

// ESD_FAILPOINT=NAME:N (a testing aid, esd(8)): the named failpoint and
// its N; none (n 0) when it is not set.
struct Failpoint {
  std::string name;
  std::uint64_t n = 0;
};
constexpr const char* kFailpoints[] = {"exit-before-publish", "backup-pause", "open-delay"};

es::Result<Failpoint> failpoint() {
  const char* env = std::getenv("ESD_FAILPOINT");
  if (env == nullptr || *env == '\0') return Failpoint{};
  std::string spec(env);
  for (const char* name : kFailpoints) {
    const std::string prefix = std::string(name) + ":";
    if (spec.rfind(prefix, 0) != 0) continue;
    try {
      std::size_t used = 0;
      std::uint64_t n = std::stoull(spec.substr(prefix.size()), &used);
      if (used == spec.size() - prefix.size() && n > 0) return Failpoint{name, n};
    } catch (const std::exception&) {
    }
  }
  return es::Status::invalid(
      "ESD_FAILPOINT: expected exit-before-publish:N, backup-pause:N or open-delay:N (N > 0), "
      "not '" +
      spec + "'");
}

// The settings that would bind an address other hosts may reach without
// authentication ("--listen tcp://0.0.0.0:7150, --http-listen
// 0.0.0.0:9150"); empty when none does. A --publish left empty takes
// --listen's host. With keys (--key-file) the request and publish sockets
// authenticate every peer; the HTTP listener never does.
std::string open_binds(const esd::Settings& settings, bool keys) {
  std::string open;
  auto add = [&open](const std::string& key, const std::string& value) {
    open += (open.empty() ? "--" : ", --") + key + " " + value;
  };
  for (const char* key : {"listen", "publish"}) {
    if (keys) break;
    const std::string& endpoint = settings.text(key);
    if (!endpoint.empty() && !es::binds_loopback_only(endpoint)) add(key, endpoint);
  }
  if (const std::string& http = settings.text("http-listen"); !http.empty()) {
    auto address = esd::parse_http_address(http);
    if (address.ok() && !address->loopback()) add("http-listen", http);
  }
  return open;
}

// A check across settings (--role and --follow, ...) failed: the usage code
// when every key involved came from the command line (or its default),
// the config code when one came from the file or the environment.
int refuse(const esd::Settings& settings, std::initializer_list<const char*> keys,
           const std::string& message) {
  bool configured = false;
  for (const char* key : keys) {
    configured = configured || settings.from(key, esd::Source::kFile) ||
                 settings.from(key, esd::Source::kEnv);
  }
  std::fprintf(stderr, "esd: error: %s\n", message.c_str());
  if (!configured) std::fprintf(stderr, "Run with --help for more information.\n");
  return configured ? kExitConfig : kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // A hosted projection's worker process (esd spawns itself): see
  // daemon/projection_worker.h.
  if (argc > 1 && std::string_view(argv[1]) == "--projection-worker")
    return esd::projection_worker_main(argc, argv);
  // Whatever esd makes (stores, projections, ipc sockets) is its user's alone.
  ::umask(0077);
  CLI::App app{"esd: the es event store daemon (see esd(8))", "esd"};
  escli::plain_errors(app, "esd");
  std::string config_file;
  app.add_option("--config", config_file,
                 "Read settings from this TOML file (esd.toml(5)); the environment (ESD_*) "
                 "and flags override it (default: $ESD_CONFIG, else none)")
      ->type_name("FILE")
      ->envname("ESD_CONFIG");
  bool print_config = false;
  app.add_flag("--print-config", print_config,
               "Print every setting, and where its value came from, as TOML, and exit");
  esd::FlagValues flags;
  esd::add_setting_flags(app, flags);
  std::string completion_shell;
  app.add_option("--completion", completion_shell,
                 "Print esd's completion script for bash, zsh or fish, and exit")
      ->check(CLI::IsMember({"bash", "zsh", "fish"}))
      ->type_name("SHELL");
  app.set_version_flag("--version", std::string("esd ") + ES_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (!completion_shell.empty()) {
    std::fputs(escli::completion_script(app, completion_shell, "esd --completion").c_str(), stdout);
    return std::fflush(stdout) == 0 ? kExitOk : kExitCannotStart;
  }
  const esd::FlagValues given = esd::given_flags(app, flags);
  auto resolved = esd::Settings::resolve(config_file, given);
  if (!resolved.ok()) {
    std::fprintf(stderr, "esd: error: %s\n", resolved.status().message().c_str());
    return kExitConfig;
  }
  const esd::Settings& settings = *resolved;
  if (print_config) {
    std::fputs(settings.to_toml().c_str(), stdout);
    return std::fflush(stdout) == 0 ? kExitOk : kExitCannotStart;
  }

  esd::ServerOptions server_options;
  server_options.listen = settings.text("listen");
  server_options.publish = settings.text("publish");
  server_options.role = settings.text("role");
  server_options.follow = settings.text("follow");
  server_options.follow_publish = settings.text("follow-publish");
  server_options.project_from = settings.text("project-from");
  if ((server_options.role == "replica") != !server_options.follow.empty()) {
    return refuse(settings, {"role", "follow"},
                  server_options.role == "replica" ? "--role replica needs --follow ENDPOINT"
                                                   : "--follow is for --role replica");
  }
  if (auto listen = es::parse_endpoint(server_options.listen, es::EndpointUse::kBind);
      server_options.publish.empty() && listen.ok() && listen->port == 65535) {
    return refuse(settings, {"listen", "publish"},
                  "--listen: port 65535 leaves no next port to publish on; give --publish");
  }
  if (!server_options.follow_publish.empty() && server_options.follow.empty())
    return refuse(settings, {"follow", "follow-publish"}, "--follow-publish goes with --follow");
  auto keyring = esd::Keyring::open(
      esd::NodeKeys{settings.text("key-file"), settings.text("allow"), settings.text("peer-key")});
  if (!keyring.ok())
    return refuse(settings, {"key-file", "allow", "peer-key"}, keyring.status().message());
  server_options.keyring = *keyring;
  const std::string open = open_binds(settings, (*keyring)->enabled());
  if (!open.empty() && !settings.flag("insecure")) {
    return refuse(settings, {"listen", "publish", "http-listen", "insecure", "key-file"},
                  open +
                      " would serve other hosts without authentication: give esd --key-file and "
                      "--allow (CurveZMQ; es keygen makes keys), bind 127.0.0.1 or an ipc:// "
                      "socket, or add --insecure to serve every host that reaches it (esd(8), "
                      "Security)");
  }
  if (es::Status s = esd::setup_logging(esd::log_options(settings)); !s.ok()) {
    spdlog::error("{}", s.message());
    return kExitConfig;
  }
  if (!open.empty()) {
    spdlog::warn(
        "--insecure: {} serves other hosts without authentication: whoever reaches it may "
        "read and append events, manage projections and stop this node",
        open);
  }
  server_options.heartbeat = std::chrono::milliseconds(settings.number("heartbeat"));
  auto fp = failpoint();
  if (!fp.ok()) {
    spdlog::error("{}", fp.status().message());
    return kExitUsage;
  }
  if (fp->name == "exit-before-publish") server_options.exit_before_publish_group = fp->n;
  if (fp->name == "backup-pause") server_options.backup_pause = std::chrono::milliseconds(fp->n);
  server_options.durability = settings.text("durability");
  server_options.publish_hwm = static_cast<int>(settings.number("publish-hwm"));
  server_options.projections.limits = esd::projection_limits(settings);
  server_options.projections.max_workers =
      static_cast<unsigned>(settings.number("max-projections"));
  server_options.admission.max_clients = static_cast<unsigned>(settings.number("max-clients"));
  const std::string data_dir = settings.text("data");
  server_options.data_dir = data_dir;
  if (const std::string dir = settings.text("subject-keys"); !dir.empty()) {
    auto keys = es::SubjectKeys::open(dir, data_dir);
    if (!keys.ok()) return refuse(settings, {"subject-keys", "data"}, keys.status().message());
    server_options.subject_keys = std::move(keys).value();
  }
  server_options.projections.projections_dir = data_dir + "/projections";
  server_options.settings = settings;
  server_options.reread_settings = [config_file, given] {
    return esd::Settings::resolve(config_file, given);
  };

  // Signals are taken by one thread only; the rest never see them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // The HTTP listener answers before the store is open, so that /readyz
  // says "not ready" during recovery (esd(8), Metrics and health).
  esd::NodeMetrics metrics;
  server_options.metrics = &metrics;
  std::unique_ptr<esd::HttpListener> http;
  std::string http_token;
  if (const std::string http_listen = settings.text("http-listen"); !http_listen.empty()) {
    auto address = esd::parse_http_address(http_listen);
    auto token = esd::admin_token(settings.text("http-token-file"));
    if (!token.ok()) return refuse(settings, {"http-token-file"}, token.status().message());
    http_token = *token;
    const auto make_dashboard = [&](const esd::HttpAddress& bound) {
      esd::DashboardConfig c;
      c.node = esd::local_endpoint(settings.text("listen"));
      // An admin key of its own: the token decides who may use it.
      auto own = (*keyring)->internal_client(es::Role::kAdmin, "the dashboard");
      c.client.curve = own.ok() ? *own : (*keyring)->client(false);
      c.peers.curve = (*keyring)->client(false);
      c.limits = esd::projection_limits(settings);
      const std::string source = settings.text("project-from");
      c.log = source.empty() ? c.node : source;
      c.key_file = (*keyring)->key_file();
      c.server_key = (*keyring)->client(!source.empty()).server_key;
      c.token = http_token;
      c.host = bound.host;
      c.port = bound.port;
      c.loopback = bound.loopback();
      return std::make_unique<esd::Dashboard>(std::move(c));
    };
    auto started = esd::HttpListener::start(*address, metrics, make_dashboard);
    if (!started.ok()) {
      spdlog::error("{}", started.status().message());
      return kExitCannotStart;
    }
    http = std::move(started).value();
    if (!http->address().loopback()) {
      spdlog::warn(
          "--http-listen {}: /metrics, /livez and /readyz have no authentication; "
          "anyone who reaches this address reads them (the dashboard needs the admin token)",
          http->address().to_string());
    }
    spdlog::info("serving the dashboard, /metrics, /livez and /readyz on http://{}/",
                 http->address().to_string());
  }
  if (fp->name == "open-delay") {
    spdlog::warn("failpoint open-delay: waiting {} ms before opening the store", fp->n);
    std::this_thread::sleep_for(std::chrono::milliseconds(fp->n));
  }

  es::StoreOptions store_options;
  store_options.initial_map_size = settings.number("initial-map-size");
  store_options.metrics = &metrics.store;
  if (std::uint64_t size = settings.bytes("journal-size"); size != 0)
    store_options.journal_size = size;
  auto store = es::Store::open(data_dir, store_options);
  if (!store.ok()) {
    spdlog::error("cannot open the store: {}", store.status().message());
    return store_open_failure(store.status());
  }
  auto projections = es::ProjectionStore::open(data_dir + "/projections");
  if (!projections.ok()) {
    spdlog::error("cannot open the projections' store: {}", projections.status().message());
    return store_open_failure(projections.status());
  }
  metrics.attach(store->get());
  int code = kExitOk;
  {
    esd::Server server(**store, **projections, server_options);
    if (es::Status s = server.bind(); !s.ok()) {
      spdlog::error("{}", s.message());
      http.reset();  // before the store goes
      return kExitCannotStart;
    }
    if (http && settings.text("http-token-file").empty()) {
      if (es::Status s = esd::write_token_file(data_dir, http_token); !s.ok())
        spdlog::warn("the dashboard's admin token: {}", s.message());
      else
        spdlog::info("the dashboard: http://{}/, its admin token in {}/{}",
                     http->address().to_string(), data_dir, esd::kTokenFile);
    }
    spdlog::info("esd {} started: data {}, head position {}, {} streams, journal {} MiB",
                 ES_VERSION, data_dir, (*store)->head(), (*store)->stream_count(),
                 (*store)->journal_size() >> 20);
    const std::string signals_endpoint = "inproc://esd-signals";
    std::atomic<bool> done{false};
    std::thread signals;
    auto reason = esd::ExitReason::kStopped;
    {
      // The loop binds the signal endpoint; inproc allows connecting first.
      signals = std::thread(signal_thread, std::ref(server.context()), signals_endpoint, set,
                            std::ref(done));
      reason = server.run(signals_endpoint);
    }
    done = true;
    signals.join();
    code = reason == esd::ExitReason::kStopped         ? kExitOk
           : reason == esd::ExitReason::kStorageFailed ? kExitStorageFailed
                                                       : kExitDiverged;
    // The store closes (and lets go of the data directory's lock) while the
    // server's sockets are still open: nothing of the server uses it after
    // run(), and `es stop` returns once the connection closes, so a script
    // may start another esd on the same directory and ports right away.
    http.reset();  // no scrape reads the store after this
    metrics.attach(nullptr);
    store->reset();
  }
  spdlog::info("exit {}", code);
  spdlog::shutdown();
  return code;
}

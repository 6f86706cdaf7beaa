// esd: the event store daemon. See esd(8).
#include <atomic>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "es/projection_store.h"
#include "es/store.h"

#include "cli/completion.h"
#include "cli/options.h"
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
};

std::string default_data_dir() {
  if (const char* env = std::getenv("ESD_DATA"); env != nullptr && *env != '\0') return env;
  if (::geteuid() == 0) return "/var/lib/esd";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/esd";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.local/share/esd";
}

// Waits for SIGINT/SIGTERM/SIGHUP (blocked in every thread) and tells the
// loop over an inproc PAIR. A second signal ends the process at once: the
// store is crash-safe, so only unacknowledged appends are lost.
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
    if (++received > 1) {
      spdlog::warn("second signal ({}): exiting now", strsignal(sig));
      spdlog::shutdown();
      std::_Exit(kExitCannotStart);
    }
    std::string what = std::string("signal ") + strsignal(sig);
    out.send(zmq::buffer(what), zmq::send_flags::dontwait);
  }
}

// ESD_FAILPOINT=NAME:N (a testing aid, esd(8)): N for the named failpoint
// (exit-before-publish: the group count at which it fires; open-delay: the
// milliseconds to wait before opening the store); 0 when it is not set, or
// set for the other one.
es::Result<std::uint64_t> failpoint_group(const std::string& name) {
  const char* env = std::getenv("ESD_FAILPOINT");
  if (env == nullptr || *env == '\0') return std::uint64_t{0};
  std::string spec(env);
  std::string prefix = name + ":";
  for (const char* other : {"exit-before-publish:", "open-delay:"}) {
    if (prefix != other && spec.rfind(other, 0) == 0) return std::uint64_t{0};
  }
  try {
    std::size_t used = 0;
    if (spec.rfind(prefix, 0) == 0) {
      std::uint64_t n = std::stoull(spec.substr(prefix.size()), &used);
      if (used == spec.size() - prefix.size() && n > 0) return n;
    }
  } catch (const std::exception&) {
  }
  return es::Status::invalid("ESD_FAILPOINT: expected " + prefix + "N (N > 0), not '" + spec + "'");
}

// "64M", "1G", "262144": a size in bytes, at least `min` (named `min_text`).
es::Result<std::uint64_t> parse_bytes(const std::string& text, std::uint64_t min,
                                      const std::string& min_text) {
  std::size_t used = 0;
  std::uint64_t n = 0;
  try {
    if (text.empty() || text[0] == '-') throw std::invalid_argument("sign");
    n = std::stoull(text, &used);
  } catch (const std::exception&) {
    return es::Status::invalid("'" + text + "' is not a size (bytes, or a number with K, M or G)");
  }
  const std::string unit = text.substr(used);
  const char u = unit.size() == 1 ? static_cast<char>(std::toupper(unit[0])) : '\0';
  const int shift = unit.empty() ? 0 : u == 'K' ? 10 : u == 'M' ? 20 : u == 'G' ? 30 : -1;
  if (shift < 0) return es::Status::invalid("'" + text + "': the unit is K, M or G");
  if (n > (std::uint64_t{1} << 40) >> shift)
    return es::Status::invalid("'" + text + "' is too large");
  n <<= shift;
  if (n < min) return es::Status::invalid("'" + text + "' is less than " + min_text);
  return n;
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
  const auto bind_endpoint = escli::endpoint(es::EndpointUse::kBind);
  const auto connect_endpoint = escli::endpoint(es::EndpointUse::kConnect);
  std::string data_dir = default_data_dir();
  esd::ServerOptions server_options;
  std::string durability = "sync";
  std::size_t initial_map_size = 64u << 20;
  std::string log_level = "info";
  int heartbeat_ms = 1000;
  app.add_option("--data", data_dir, "Data directory (created if missing)")
      ->type_name("DIR")
      ->capture_default_str();
  app.add_option("--listen", server_options.listen, "Request endpoint (ZeroMQ ROUTER)")
      ->check(bind_endpoint)
      ->capture_default_str();
  app.add_option("--publish", server_options.publish,
                 "Publisher endpoint (default: next port, or PATH.pub for ipc)")
      ->check(bind_endpoint);
  app.add_option("--heartbeat", heartbeat_ms, "Heartbeat interval in milliseconds")
      ->check(escli::whole_number(10, 3'600'000))
      ->capture_default_str();
  app.add_option("--publish-hwm", server_options.publish_hwm,
                 "Frames queued per subscriber before the publisher drops (subscribers "
                 "repair drops from the store)")
      ->check(escli::whole_number(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--role", server_options.role,
                 "primary (takes appends) or replica (copies the log of --follow)")
      ->check(CLI::IsMember({"primary", "replica"}))
      ->capture_default_str();
  app.add_option("--follow", server_options.follow,
                 "A replica's primary (its request endpoint); a replica can follow a replica")
      ->check(connect_endpoint)
      ->type_name("ENDPOINT");
  app.add_option("--follow-publish", server_options.follow_publish,
                 "The primary's publisher, when it is reached otherwise than its hello says "
                 "(a proxy, a NAT)")
      ->check(connect_endpoint)
      ->type_name("ENDPOINT");
  app.add_option("--project-from", server_options.project_from,
                 "Hosted projections read the log of this node (its request endpoint) "
                 "instead of this one's: a read side apart from the write side")
      ->check(connect_endpoint)
      ->type_name("ENDPOINT");
  app.add_option("--durability", durability,
                 "sync, the only one: an append is acknowledged once its journal frame is "
                 "flushed (nometasync is gone: see esd(8))")
      ->check([](const std::string& v) {
        if (v == "sync") return std::string();
        if (v == "nometasync")
          return std::string(
              "nometasync is gone: the journal flushes each group once, "
              "the flush nometasync used to save (see esd(8), Journal)");
        return "it takes sync, not '" + v + "'";
      })
      ->capture_default_str();
  std::string journal_size;
  app.add_option("--journal-size", journal_size,
                 "The journal's size: bytes, or with K, M or G (default: 128M for a new "
                 "journal, less on a small disk; an existing one keeps its size)")
      ->type_name("SIZE");
  auto& limits = server_options.projections.limits;
  int event_cpu_ms = static_cast<int>(limits.event_cpu.count());
  int start_cpu_ms = static_cast<int>(limits.start_cpu.count());
  std::string projection_memory =
      limits.memory_bytes == 0 ? "0" : std::to_string(limits.memory_bytes >> 20) + "M";
  app.add_option("--projection-event-cpu", event_cpu_ms,
                 "Milliseconds of CPU time a hosted projection may spend on one event before "
                 "it is failed")
      ->type_name("MS")
      ->check(escli::whole_number(10, 3'600'000))
      ->capture_default_str();
  app.add_option("--projection-start-cpu", start_cpu_ms,
                 "Milliseconds of CPU time compiling a projection (with its from and init) "
                 "may take")
      ->type_name("MS")
      ->check(escli::whole_number(10, 60'000))
      ->capture_default_str();
  app.add_option("--projection-memory", projection_memory,
                 "Memory (heap) each projection's worker may use: bytes, or with K, M or G; "
                 "0: no limit")
      ->type_name("SIZE")
      ->capture_default_str();
  app.add_option("--max-projections", server_options.projections.max_workers,
                 "Projections this node runs at once (a reset's build counts as one)")
      ->type_name("N")
      ->check(escli::whole_number(1, 10'000))
      ->capture_default_str();
  const std::uint64_t file_limit = esd::Admission::raise_file_limit();
  server_options.admission.max_clients =
      esd::Admission::default_max_clients(file_limit, esd::Admission::machine_memory());
  app.add_option("--max-clients", server_options.admission.max_clients,
                 "Connections (clients and subscribers) taken at once; 16 more from 127.0.0.1 "
                 "and ::1 (default: what half the memory holds at 184 MiB each, and the file "
                 "limit, which esd raises to its hard limit, allow)")
      ->type_name("N")
      ->check(escli::whole_number(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--initial-map-size", initial_map_size, "LMDB map size to start with, in bytes")
      ->check(escli::whole_number(std::uint64_t{1} << 20, std::uint64_t{1} << 44))
      ->capture_default_str();
  app.add_option("--log-level", log_level,
                 "trace, debug, info, warn (or warning), error, critical or off")
      ->check([](const std::string& v) {
        return esd::parse_log_level(v) ? std::string()
                                       : "it takes trace, debug, info, warn, error, critical "
                                         "or off, not '" +
                                             v + "'";
      })
      // The words completions offer (cli/completion.cc reads {...}).
      ->type_name("LEVEL:{trace,debug,info,warn,error,critical,off}")
      ->capture_default_str();
  std::string log_format = "text";
  app.add_option("--log-format", log_format,
                 "text, or json: one object per line ({\"time\",\"level\",\"msg\"})")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  std::string http_listen;
  app.add_option("--http-listen", http_listen,
                 "Serve /metrics, /livez and /readyz over HTTP on [HOST:]PORT (a bare port: "
                 "127.0.0.1's; no authentication yet); off unless given")
      ->check([](const std::string& v) {
        auto a = esd::parse_http_address(v);
        return a.ok() ? std::string() : a.status().message();
      })
      ->type_name("[HOST:]PORT");
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

  if ((server_options.role == "replica") != !server_options.follow.empty()) {
    std::fprintf(stderr, "esd: error: %s\nRun with --help for more information.\n",
                 server_options.role == "replica" ? "--role replica needs --follow ENDPOINT"
                                                  : "--follow is for --role replica");
    return kExitUsage;
  }
  if (auto listen = es::parse_endpoint(server_options.listen, es::EndpointUse::kBind);
      server_options.publish.empty() && listen.ok() && listen->port == 65535) {
    std::fprintf(stderr,
                 "esd: error: --listen: port 65535 leaves no next port to publish on; "
                 "give --publish\n");
    return kExitUsage;
  }
  if (!server_options.follow_publish.empty() && server_options.follow.empty()) {
    std::fprintf(stderr, "esd: error: --follow-publish goes with --follow\n");
    return kExitUsage;
  }
  esd::setup_logging(*esd::parse_log_level(log_level), log_format == "json");
  server_options.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  if (auto fp = failpoint_group("exit-before-publish"); fp.ok()) {
    server_options.exit_before_publish_group = *fp;
  } else {
    spdlog::error("{}", fp.status().message());
    return kExitUsage;
  }
  server_options.durability = durability;
  limits.event_cpu = std::chrono::milliseconds(event_cpu_ms);
  limits.start_cpu = std::chrono::milliseconds(start_cpu_ms);
  if (projection_memory == "0") {
    limits.memory_bytes = 0;
  } else {
    auto bytes = parse_bytes(projection_memory, 16u << 20, "16M");
    if (!bytes.ok()) {
      std::fprintf(stderr, "esd: error: --projection-memory: %s\n",
                   bytes.status().message().c_str());
      return kExitUsage;
    }
    limits.memory_bytes = *bytes;
  }
  server_options.projections.projections_dir = data_dir + "/projections";

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
  if (!http_listen.empty()) {
    auto address = esd::parse_http_address(http_listen);
    auto started = esd::HttpListener::start(*address, metrics);
    if (!started.ok()) {
      spdlog::error("{}", started.status().message());
      return kExitCannotStart;
    }
    http = std::move(started).value();
    if (!http->address().loopback()) {
      spdlog::warn(
          "--http-listen {}: /metrics, /livez and /readyz have no authentication yet; "
          "anyone who reaches this address reads them",
          http->address().to_string());
    }
    spdlog::info("serving /metrics, /livez and /readyz on http://{}", http->address().to_string());
  }
  if (auto delay = failpoint_group("open-delay"); delay.ok() && *delay > 0) {
    spdlog::warn("failpoint open-delay: waiting {} ms before opening the store", *delay);
    std::this_thread::sleep_for(std::chrono::milliseconds(*delay));
  }

  es::StoreOptions store_options;
  store_options.initial_map_size = initial_map_size;
  store_options.metrics = &metrics.store;
  if (!journal_size.empty()) {
    auto size =
        parse_bytes(journal_size, es::kMinJournalBytes,
                    "the smallest journal, " + std::to_string(es::kMinJournalBytes >> 10) + "K");
    if (!size.ok()) {
      std::fprintf(stderr, "esd: error: --journal-size: %s\n", size.status().message().c_str());
      return kExitUsage;
    }
    store_options.journal_size = *size;
  }
  auto store = es::Store::open(data_dir, store_options);
  if (!store.ok()) {
    spdlog::error("cannot open the store: {}", store.status().message());
    return kExitCannotStart;
  }
  auto projections = es::ProjectionStore::open(data_dir + "/projections");
  if (!projections.ok()) {
    spdlog::error("cannot open the projections' store: {}", projections.status().message());
    return kExitCannotStart;
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
  }
  http.reset();  // no scrape reads the store after this
  metrics.attach(nullptr);
  store->reset();
  spdlog::info("exit {}", code);
  spdlog::shutdown();
  return code;
}

#include "projection_worker.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>

#include "es/client.h"
#include "es/projection.h"
#include "es/projection_store.h"
#include "es/subscription.h"

#include "projection/replay.h"
#include "projection/sandbox.h"
#include "view/output.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace esd {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kReports = 3;
constexpr std::size_t kRestorePage = 10'000;
constexpr std::size_t kMaxSourceBytes = 1u << 20;

std::atomic<bool> g_stop{false};
std::atomic<std::uint64_t> g_event{0};  // the event being folded (0: none)

void on_term(int) { g_stop.store(true); }

// A crash in jq: says which event it was on ("C position"), then dies of
// the same signal (esd reads the signal from the exit status).
void on_crash(int sig) {
  char line[32] = "C ";
  char digits[24];
  int n = 0;
  std::uint64_t at = g_event.load(std::memory_order_relaxed);
  do {
    digits[n++] = static_cast<char>('0' + at % 10);
    at /= 10;
  } while (at != 0 && n < 20);
  int len = 2;
  while (n > 0) line[len++] = digits[--n];
  line[len++] = '\n';
  [[maybe_unused]] auto w = ::write(kReports, line, static_cast<std::size_t>(len));
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// One report line; a closed pipe means esd is gone: so is the worker.
void report(const std::string& line) {
  std::string out = line;
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  out += '\n';
  if (::write(kReports, out.data(), out.size()) != static_cast<ssize_t>(out.size())) ::_exit(0);
}

int failed(es::Position at, const es::Status& why) {
  report("F " + std::to_string(at) + " " + why.message());
  return es::kWorkerFailed;
}

std::string read_stdin() {
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(0, buf, sizeof buf);
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxSourceBytes) break;
  }
  return text;
}

struct Args {
  std::map<std::string, std::string> kv;
  std::string get(const std::string& k) const {
    auto it = kv.find(k);
    return it == kv.end() ? std::string() : it->second;
  }
  std::uint64_t number(const std::string& k) const {
    const std::string v = get(k);
    return v.empty() ? 0 : std::strtoull(v.c_str(), nullptr, 10);
  }
};

// How the worker reaches its node: with the node's own key pair when it
// has one.
es::Result<es::ClientOptions> node_client(const Args& args) {
  es::ClientOptions options{std::chrono::milliseconds(1000)};
  if (!args.get("key").empty()) {
    auto pair = es::load_key_pair(args.get("key"));
    if (!pair.ok()) return pair.status();
    options.curve = es::CurveClient{args.get("server-key"), std::move(pair).value()};
  }
  return options;
}

// Mode "at": folds the log up to position `at` into a new instance of the
// projection, then reports its states, a line "S {"key":K,"state":S}" each
// (only partition `partition` when given), and "E at". Nothing is stored.
int states_at(const Args& args, const es::SandboxLimits& limits, es::Watchdog& watchdog,
              const std::string& source) {
  auto options = node_client(args);  // the key is read before any user code runs
  if (!options.ok()) return failed(0, options.status());
  auto compiled = es::compile_watched(source, args.get("name"), watchdog, limits);
  if (!compiled.ok()) return failed(0, compiled.status());
  es::Projection& p = **compiled;
  es::Client client(args.get("endpoint"), *options);
  es::ReplayOptions replay;
  replay.to = args.number("at");
  replay.watchdog = &watchdog;
  replay.event_cpu = limits.event_cpu;
  replay.progress = [](es::Position at) { g_event.store(at, std::memory_order_relaxed); };
  if (es::Status s = es::replay(p, client, replay); !s.ok())
    return failed(g_event.load(std::memory_order_relaxed), s);
  const std::string only = args.get("partition");
  p.for_each([&](const std::string& key, const std::string& state) {
    if (!only.empty() && key != only) return;
    report("S " + es::view::partition_line(key, state));
  });
  report("E " + std::to_string(*replay.to));
  return 0;
}

int run(const Args& args, const es::SandboxLimits& limits, es::Watchdog& watchdog,
        const std::string& source) {
  const std::string name = args.get("name");
  const auto generation = static_cast<std::uint32_t>(args.number("generation"));
  auto compiled = es::compile_watched(source, name, watchdog, limits);
  if (!compiled.ok()) return failed(0, compiled.status());
  es::Projection& p = **compiled;
  auto opened = es::ProjectionStore::open(args.get("projections"));
  if (!opened.ok()) return failed(0, opened.status());
  es::ProjectionStore& store = **opened;
  // Back to where the last commit left it (no user code runs here).
  std::string after;
  for (;;) {
    auto page = store.states(name, generation, after, kRestorePage);
    if (!page.ok()) return failed(0, page.status());
    for (const auto& [key, state] : *page) {
      if (es::Status s = p.restore(key, state); !s.ok()) return failed(0, s);
    }
    if (page->size() < kRestorePage) break;
    after = page->back().first;
  }
  auto checkpoint = store.checkpoint(name, generation);
  if (!checkpoint.ok()) return failed(0, checkpoint.status());
  es::Position committed = *checkpoint;
  p.restore_position(committed);
  es::Position head = 0;
  double rate = 0;
  auto progress = [&] {
    report("P " + std::to_string(committed) + " " + std::to_string(head) + " " +
           std::to_string(p.partitions()) + " " + std::to_string(rate));
  };
  progress();
  auto flush = [&](es::Position upto) -> es::Status {
    auto changed = p.take_changed();
    if (changed.empty() && upto <= committed) return {};
    ES_RETURN_IF_ERROR(store.commit(name, generation, changed, upto));
    committed = upto;
    return {};
  };
  auto window_start = Clock::now();
  std::uint64_t window_applied = p.applied();
  auto client_options = node_client(args);
  if (!client_options.ok()) return failed(0, client_options.status());
  es::Client client(args.get("endpoint"), *client_options);
  es::Status failure;
  es::Position failed_at = 0;
  while (!g_stop.load()) {
    es::SubscriptionOptions options;
    const auto& src = p.source();
    options.filter = es::SubscriptionFilter{src.read_stream(), src.read_category(), src.types};
    options.from = committed + 1;
    options.tick_interval = std::chrono::milliseconds(100);
    options.on_tick = [&](es::Subscription& sub) -> es::Status {
      watchdog.idle();
      ES_RETURN_IF_ERROR(flush(sub.checkpoint_position()));
      head = sub.head_seen();
      const auto now = Clock::now();
      const double secs = std::chrono::duration<double>(now - window_start).count();
      if (secs >= 1.0) {
        rate = static_cast<double>(p.applied() - window_applied) / secs;
        window_start = now;
        window_applied = p.applied();
      }
      progress();
      return {};
    };
    es::Subscription sub(client, std::move(options));
    es::Status s = sub.run(
        [&](const es::RecordedEvent& e) {
          watchdog.event(e.position, limits.event_cpu);
          g_event.store(e.position, std::memory_order_relaxed);
          es::Status applied = p.apply(e);
          if (applied.ok()) return es::Delivery::kContinue;
          failure = applied;
          failed_at = e.position;
          return es::Delivery::kRefused;
        },
        g_stop);
    watchdog.idle();
    // Whatever was folded in before a stop or a failure is kept.
    if (es::Status flushed = flush(sub.checkpoint_position()); !flushed.ok())
      return failed(0, flushed);
    head = sub.head_seen();
    progress();
    if (!failure.ok()) return failed(failed_at, failure);
    if (s.ok() || g_stop.load()) break;
    if (s.code() != es::Code::kUnavailable) return failed(0, s);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the node is not up yet
  }
  return 0;
}

}  // namespace

int projection_worker_main(int argc, char** argv) {
  ::umask(0077);
  if (argc < 3) return es::kWorkerBadArgs;
  const std::string mode = argv[2];
  Args args;
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    const auto eq = a.find('=');
    if (eq == std::string::npos) return es::kWorkerBadArgs;
    args.kv[a.substr(0, eq)] = a.substr(eq + 1);
  }
  // It ends with esd (which may have died before this line ran).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (args.number("parent") != 0 &&
      static_cast<std::uint64_t>(::getppid()) != args.number("parent"))
    return es::kWorkerBadArgs;
  struct sigaction term {};
  term.sa_handler = on_term;
  ::sigaction(SIGTERM, &term, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction crash {};
  crash.sa_handler = on_crash;
  crash.sa_flags = SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) ::sigaction(sig, &crash, nullptr);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGTERM);
  ::pthread_sigmask(SIG_UNBLOCK, &unblock, nullptr);

  es::SandboxLimits limits;
  limits.event_cpu = std::chrono::milliseconds(args.number("event-cpu-ms"));
  limits.start_cpu = std::chrono::milliseconds(args.number("start-cpu-ms"));
  limits.memory_bytes = args.number("memory");
  if (es::Status s = es::limit_process(limits); !s.ok()) return failed(0, s);
  const std::string source = read_stdin();
  if (source.size() > kMaxSourceBytes)
    return failed(0, es::Status::invalid("a projection file is at most 1 MiB"));
  es::Watchdog watchdog(kReports);
  if (mode == "check") {
    auto compiled = es::compile_watched(source, args.get("name"), watchdog, limits);
    if (!compiled.ok()) return failed(0, compiled.status());
    return 0;
  }
  if (mode == "run") return run(args, limits, watchdog, source);
  if (mode == "at") return states_at(args, limits, watchdog, source);
  return es::kWorkerBadArgs;
}

es::Result<es::Worker> launch_worker(const WorkerLaunch& launch, const std::string& source) {
  const es::SandboxLimits& l = launch.limits;
  std::vector<std::string> argv = {launch.exe.empty() ? es::self_exe() : launch.exe,
                                   "--projection-worker",
                                   launch.mode,
                                   "name=" + launch.name,
                                   "endpoint=" + launch.endpoint,
                                   "key=" + launch.key_file,
                                   "server-key=" + launch.server_key,
                                   "parent=" + std::to_string(::getpid()),
                                   "event-cpu-ms=" + std::to_string(l.event_cpu.count()),
                                   "start-cpu-ms=" + std::to_string(l.start_cpu.count()),
                                   "memory=" + std::to_string(l.memory_bytes)};
  for (const auto& [key, value] : launch.keys) argv.push_back(key + "=" + value);
  auto worker = es::spawn_worker(argv);
  if (!worker.ok()) return worker.status();
  std::size_t written = 0;
  while (written < source.size()) {
    const ssize_t n = ::write(worker->input, source.data() + written, source.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  ::close(worker->input);
  worker->input = -1;
  return worker;
}

}  // namespace esd

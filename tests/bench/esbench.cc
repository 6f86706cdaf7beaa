// esbench: the workloads of the peer benchmark (../shared/bench/peers: W1-W7,
// the same event shape, sizes, durations, caps and PB_* variables) against an
// esd that this program starts, uses through es::Client / es::Subscription,
// and stops; plus W8 (W7's latency through `es tail` output), W9 (W7's
// latency through a replica: replication lag) and W10 (an empty replica
// catching up with the preloaded log), which are not peers' workloads. See
// README.md next to this file.
//
//   esbench --esd PATH [--es PATH] [--quick] [--data DIR] [--durability sync|nometasync] [--keep]
//
// Output (stdout): one "R <tab> label <tab> metric <tab> value" line per
// measured value (the peers' raw format, label esd-<durability>@1, so the
// lines can go into a peers raw-*.tsv), then the results table in Markdown
// with the peers' columns, the disk, W7/W8 details and the other checks.
// Progress goes to stderr. Every loop is bounded by a count and a time.
// Exit status: 0 when every step ran, every check passed and esd exited 0.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "es/client.h"
#include "es/event.h"
#include "es/subscription.h"
#include "es/types.h"
#include "es/uuid.h"

#include "bench/append_loop.h"
#include "bench/delivery.h"
#include "bench/events.h"
#include "bench/read_loop.h"
#include "bench/stats.h"
#include "protocol/messages.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// ------------------------------------------------------------------ basics
// (settings as in peers/src/common.hpp; the clock, the event generator, the
// statistics and the loops are lib/bench's, shared with `es bench`)

using es::bench::now_ns;
using es::bench::Rng;
using es::bench::secs_since;

long env_long(const char* name, long def) {
  const char* v = std::getenv(name);
  if (!v || !*v) return def;
  return std::strtol(v, nullptr, 10);
}
std::string env_str(const char* name, const std::string& def) {
  const char* v = std::getenv(name);
  return (v && *v) ? std::string(v) : def;
}

// The peers' settings and defaults; --quick gives run.sh's QUICK defaults
// (environment values win in both modes).
struct Settings {
  explicit Settings(bool quick)
      : all_events(env_long("PB_ALL_EVENTS", quick ? 100000 : 1000000)),
        big_events(env_long("PB_BIG_EVENTS", quick ? 10000 : 100000)),
        secs(env_long("PB_SECS", quick ? 2 : 10)),
        w7_secs(env_long("PB_W7_SECS", quick ? 2 : 10)),
        w7_drain_ms(env_long("PB_W7_DRAIN_MS", quick ? 1500 : 3000)),
        w8_secs(env_long("PB_W8_SECS", quick ? 2 : 10)),
        w9_secs(env_long("PB_W9_SECS", quick ? 2 : 10)),
        settle_ms(env_long("PB_SETTLE_MS", quick ? 500 : 1000)),
        disk_secs(env_long("DISK_SECS", quick ? 2 : 5)) {}
  long streams = env_long("PB_STREAMS", 1000);
  long all_events;
  long big_events;
  long secs;
  long max_events = env_long("PB_MAX_EVENTS", 2000000);
  long w2_clients = env_long("PB_W2_CLIENTS", 16);
  long batch = env_long("PB_BATCH", 100);
  long read_batch = env_long("PB_READ_BATCH", 1000);
  long data_bytes = env_long("PB_DATA_BYTES", 200);
  long w7_rate = env_long("PB_W7_RATE", 5000);
  long w7_secs;
  long w7_writers = env_long("PB_W7_WRITERS", 4);
  long w7_drain_ms;
  // W8 (not a peers' workload): W7's schedule, received through `es tail`.
  long w8_rate = env_long("PB_W8_RATE", 5000);
  long w8_secs;
  // W9 (replication lag): W7's schedule, received from a replica.
  long w9_rate = env_long("PB_W9_RATE", 2000);
  long w9_secs;
  long read_timeout_s = env_long("PB_READ_TIMEOUT_S", 180);
  long settle_ms;
  long disk_secs;
  bool skip_disk = env_long("SKIP_DISK", 0) == 1;
  std::string workloads = env_str("PB_WORKLOADS", "ceiling,preload,W10,W6,W5,W1,W2,W3,W4,W7,W8,W9");
  // es ids are 16 bytes; the peers send UUID v4 text. v4 (default) keeps the
  // same random ids; v7 is what es clients make by default (time-ordered).
  std::string uuid_kind = env_str("ESB_UUID", "v4");
  std::string type = "OrderPlaced";
  static constexpr long kPreloadPerRequest = 1000;
};

Settings* g_settings = nullptr;
const Settings& S() { return *g_settings; }

// Every event of a run: the peers' type and body size, ESB_UUID's ids.
es::bench::EventShape shape() {
  es::bench::EventShape e;
  e.type = S().type;
  e.data_bytes = static_cast<size_t>(S().data_bytes);
  e.ids = S().uuid_kind == "v7" ? es::bench::IdKind::kV7 : es::bench::IdKind::kV4;
  return e;
}

std::string sname(const char* prefix, long k) { return std::string(prefix) + std::to_string(k); }

es::ProposedEvent make_event(Rng& r, uint64_t n, std::string stream) {
  return es::bench::make_event(r, shape(), n, std::move(stream));
}

// ------------------------------------------------------------------ results

std::string g_label;                        // esd-<durability>
std::map<std::string, std::string> g_out;   // metric -> value (label g_label)
std::map<std::string, std::string> g_disk;  // metric -> value (label disk)
bool g_failed = false;

void emit(const std::string& label, const std::string& metric, const std::string& value) {
  std::printf("R\t%s\t%s\t%s\n", label.c_str(), metric.c_str(), value.c_str());
  std::fflush(stdout);
}
void out(const std::string& metric, const std::string& value) {
  g_out[metric] = value;
  emit(g_label + "@1", metric, value);
}
void outf(const std::string& metric, double v, int prec = 1) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  out(metric, b);
}
void out_disk(const std::string& metric, const std::string& value) {
  g_disk[metric] = value;
  emit("disk", metric, value);
}
void check(const std::string& metric, bool ok) {
  out(metric, ok ? "yes" : "NO");
  if (!ok) g_failed = true;
}

void log(const std::string& s) {
  std::fprintf(stderr, "[%s] %s\n", g_label.c_str(), s.c_str());
  std::fflush(stderr);
}

// Latency summary in microseconds: p50, (p90,) p99, max.
void out_lat(const std::string& w, std::vector<int64_t>& v, bool p90 = false) {
  const es::bench::LatencySummary l = es::bench::summarize(v);
  outf(w + "_p50_us", l.p50_us);
  if (p90) outf(w + "_p90_us", l.p90_us);
  outf(w + "_p99_us", l.p99_us);
  outf(w + "_max_us", l.max_us);
}

[[noreturn]] void fail(const std::string& what, const es::Status& s) {
  throw std::runtime_error(what + ": " + s.to_string());
}

// ------------------------------------------------------------------ the disk
// (peers/src/fsyncbench.c, in-process)

struct DiskResult {
  long ops = 0;
  double secs = 0, per_s = 0;
  uint32_t p50 = 0, p99 = 0, max = 0;
};

// Overwrite mode cycles over `file_bytes` (16 MiB by default; the journal's
// 128 MiB for the ceiling step), zero-filled and synced first.
// Writes `bytes` of zeros from the start of `fd` and syncs it: a file laid
// out as the journal is, before it is overwritten.
bool zero_fill(int fd, long bytes) {
  const std::string zeros(1 << 20, '\0');
  for (long off = 0; off < bytes; off += static_cast<long>(zeros.size())) {
    const std::size_t n = static_cast<std::size_t>(std::min<long>(bytes - off, zeros.size()));
    if (::pwrite(fd, zeros.data(), n, off) != static_cast<ssize_t>(n)) return false;
  }
  return ::fsync(fd) == 0;
}

DiskResult fsync_bench(const std::string& path, double secs, bool append, long max_ops = 1000000,
                       long file_bytes = 16L << 20) {
  enum { BS = 4096 };
  const long slots = file_bytes / BS;
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
  static char buf[BS];
  std::memset(buf, 'x', sizeof buf);
  auto die = [&](const char* what) {
    int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    throw std::runtime_error(std::string(what) + " " + path + ": " + std::strerror(e));
  };
  if (!append && !zero_fill(fd, file_bytes)) die("zero-fill");
  std::vector<uint32_t> lat;
  lat.reserve(static_cast<size_t>(std::min<long>(max_ops, 200000)));
  long n = 0;
  int64_t t0 = now_ns(), end = t0 + static_cast<int64_t>(secs * 1e9), t = t0;
  while (n < max_ops && t < end) {
    buf[0] = static_cast<char>(n);
    ssize_t w = append ? ::write(fd, buf, BS) : ::pwrite(fd, buf, BS, (n % slots) * BS);
    if (w != BS) die("write");
    if (::fdatasync(fd) != 0) die("fdatasync");
    int64_t t2 = now_ns();
    lat.push_back(static_cast<uint32_t>((t2 - t) / 1000));
    n++;
    t = t2;
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(lat.begin(), lat.end());
  DiskResult r;
  r.ops = n;
  r.secs = static_cast<double>(t - t0) / 1e9;
  r.per_s = r.secs > 0 ? static_cast<double>(n) / r.secs : 0;
  if (n > 0) {
    r.p50 = lat[static_cast<size_t>((n - 1) / 2)];
    r.p99 = lat[static_cast<size_t>(static_cast<double>(n - 1) * 0.99)];
    r.max = lat.back();
  }
  return r;
}

void disk_step(const std::string& dir, bool at_end) {
  if (S().skip_disk) return;
  const std::string path = dir + "/esbench-fsync.dat";
  const double secs = static_cast<double>(S().disk_secs);
  try {
    if (!at_end) {
      for (bool append : {true, false}) {
        std::fprintf(stderr, "== disk: 4 KiB %s + fdatasync, 1 thread, %.0f s\n",
                     append ? "append" : "overwrite", secs);
        DiskResult r = fsync_bench(path, secs, append);
        std::string m = append ? "fsync_append" : "fsync_overwrite";
        out_disk(m + "_per_s", std::to_string(static_cast<long>(r.per_s + 0.5)));
        out_disk(m + "_p50_us", std::to_string(r.p50));
        out_disk(m + "_p99_us", std::to_string(r.p99));
      }
    } else {
      std::fprintf(stderr, "== disk: 4 KiB append + fdatasync again, at the end\n");
      DiskResult r = fsync_bench(path, secs, true);
      out_disk("fsync_append_end_per_s", std::to_string(static_cast<long>(r.per_s + 0.5)));
      out_disk("fsync_append_end_p50_us", std::to_string(r.p50));
    }
  } catch (const std::exception& ex) {
    out_disk(at_end ? "disk_end_error" : "disk_error", ex.what());
    g_failed = true;
  }
}

// ------------------------------------------------------------------ esd

struct Esd {
  pid_t pid = -1;
  std::string endpoint;
  std::string log_path;
};

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// Forks and execs args[0] with stdout on out_fd and stderr on err_fd. The
// child gets SIGTERM when the forking thread ends (PR_SET_PDEATHSIG: call this
// from the main thread), so nothing outlives a crashed esbench. Returns the
// pid, or -1 with errno when fork failed; a failed exec shows as exit 127.
pid_t spawn_child(std::vector<std::string> args, int out_fd, int err_fd) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // Only async-signal-safe calls here: other threads may hold locks.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  if (out_fd > 2) ::close(out_fd);
  if (err_fd > 2 && err_fd != out_fd) ::close(err_fd);
  ::execv(argv[0], argv.data());
  ::_exit(127);
}

// SIGTERM, then a bounded wait (then SIGKILL). Returns the exit status text:
// "0" when the child exited normally with 0.
std::string stop_child(pid_t& pid, int wait_s) {
  if (pid <= 0) return "not running";
  ::kill(pid, SIGTERM);
  int status = 0;
  int64_t deadline = now_ns() + wait_s * 1'000'000'000LL;
  while (now_ns() < deadline) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || r < 0) {
      pid = -1;
      if (r < 0) return std::string("waitpid: ") + std::strerror(errno);
      if (WIFEXITED(status)) return std::to_string(WEXITSTATUS(status));
      if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
      return "status " + std::to_string(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  pid = -1;
  return "did not stop within " + std::to_string(wait_s) + " s (killed)";
}

// Starts esd on a free loopback port (the publisher on a wildcard port, which
// es::Client learns from hello) and waits until it answers. Bounded: 5
// attempts of up to 15 s each.
Esd start_esd(const std::string& esd_path, const std::string& data, const std::string& durability,
              const std::string& log_path, const std::vector<std::string>& extra = {}) {
  for (int attempt = 0; attempt < 5; attempt++) {
    int port = free_loopback_port();
    if (port <= 0) throw std::runtime_error("no free loopback port");
    Esd e;
    e.endpoint = "tcp://127.0.0.1:" + std::to_string(port);
    e.log_path = log_path;
    std::vector<std::string> args = {esd_path,    "--data",           data, "--listen", e.endpoint,
                                     "--publish", "tcp://127.0.0.1:*"};
    if (!durability.empty()) {
      args.push_back("--durability");
      args.push_back(durability);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    int logfd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) throw std::runtime_error("open " + log_path + ": " + std::strerror(errno));
    pid_t pid = spawn_child(args, logfd, logfd);
    int fork_errno = errno;
    ::close(logfd);
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(fork_errno));
    e.pid = pid;
    es::Client c(e.endpoint, es::ClientOptions{std::chrono::milliseconds(200)});
    int64_t deadline = now_ns() + 15'000'000'000LL;
    bool exited = false;
    int status = 0;
    while (now_ns() < deadline) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      auto h = c.hello();
      if (h.ok()) return e;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!exited) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw std::runtime_error("esd did not answer within 15 s (log: " + log_path + ")");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
      throw std::runtime_error("cannot execute " + esd_path);
    std::fprintf(stderr, "esd exited at start (status %d; port %d taken?), retrying; log: %s\n",
                 status, port, log_path.c_str());
  }
  throw std::runtime_error("esd did not start in 5 attempts (log: " + log_path + ")");
}

// SIGTERM, then a bounded wait (30 s: esd finishes its commits; then SIGKILL).
std::string stop_esd(Esd& e) { return stop_child(e.pid, 30); }

// ------------------------------------------------------------------ workloads

std::string g_endpoint;

es::ClientOptions client_options() { return es::ClientOptions{std::chrono::milliseconds(30000)}; }

es::AppendResult append_or_throw(es::Client& c, const es::AppendRequest& rq, const char* what) {
  auto r = c.append(rq);
  if (!r.ok()) fail(what, r.status());
  return std::move(r).value();
}

// Not measured (the rate is for information): N events round-robin over
// `stream_of`, 1000 events per request (the peers' bulk paths).
void preload(es::Client& c, Rng& rng, long n, const std::function<std::string(long)>& stream_of,
             const std::string& metric) {
  int64_t t0 = now_ns();
  es::AppendRequest rq;
  for (long i = 0; i < n; i += Settings::kPreloadPerRequest) {
    rq.events.clear();
    long end = std::min(n, i + Settings::kPreloadPerRequest);
    for (long j = i; j < end; j++)
      rq.events.push_back(make_event(rng, static_cast<uint64_t>(j), stream_of(j)));
    append_or_throw(c, rq, "preload append");
    if (secs_since(t0) > static_cast<double>(S().read_timeout_s) * 5)
      throw std::runtime_error("preload timed out");
  }
  outf(metric, static_cast<double>(n) / secs_since(t0), 0);
}

struct ReadCheck {
  uint64_t n = 0, bad = 0, seq_mismatch = 0;
  bool order_ok = true;
};

void report_read(const std::string& w, int64_t t0, const ReadCheck& rc, long expected) {
  double el = secs_since(t0);
  out(w + "_n", std::to_string(rc.n));
  outf(w + "_evps", static_cast<double>(rc.n) / el, 0);
  check(w + "_complete", static_cast<long>(rc.n) == expected && rc.bad == 0);
  check(w + "_order_ok", rc.order_ok);
  // Each body as sent (200 bytes, sequence number = its place in the read).
  check(w + "_data_ok", rc.seq_mismatch == 0);
}

void body_check(ReadCheck& rc, const es::RecordedEvent& e, uint64_t want_seq) {
  const std::string& d = e.data;
  if (d.size() < 2 || d.front() != '{' || d.back() != '}') rc.bad++;
  if (d.size() != static_cast<size_t>(S().data_bytes) || es::bench::data_seq(d) != want_seq)
    rc.seq_mismatch++;
}

// W6 (stream empty: the whole log from position 1) and W5 (stream big-0
// from version 0), pages of PB_READ_BATCH, every event checked.
void read_workload(es::Client& c, const std::string& w, const std::string& stream, long expected) {
  ReadCheck rc;
  es::Position last_pos = 0;
  int64_t last_ver = -1;
  es::bench::ReadLoopOptions o;
  o.stream = stream;
  o.page_events = static_cast<uint32_t>(S().read_batch);
  o.time_limit = std::chrono::seconds(S().read_timeout_s);
  o.on_event = [&](const es::RecordedEvent& e) {
    if (e.position <= last_pos) rc.order_ok = false;
    if (!stream.empty() && static_cast<int64_t>(e.version) != last_ver + 1) rc.order_ok = false;
    last_ver = static_cast<int64_t>(e.version);
    last_pos = e.position;
    body_check(rc, e, rc.n);
    rc.n++;
  };
  int64_t t0 = now_ns();
  auto r = es::bench::run_read_loop(c, o);
  if (!r.ok()) fail(w + " read", r.status());
  report_read(w, t0, rc, expected);
}

void w6(es::Client& c) { read_workload(c, "W6", "", S().all_events); }
void w5(es::Client& c) { read_workload(c, "W5", "big-0", S().big_events); }

// The closed append loop of W1-W4 and the ceiling (lib/bench): `clients`
// threads, one es::Client each, PB_SECS and the PB_MAX_EVENTS cap.
es::bench::AppendLoopResult append_loop(const std::string& w, const std::string& endpoint,
                                        long clients, long batch, bool expected,
                                        es::bench::StreamPick pick, const char* prefix,
                                        uint64_t seed) {
  es::bench::AppendLoopOptions o;
  o.endpoint = endpoint;
  o.timeout = client_options().timeout;
  o.clients = clients;
  o.batch = batch;
  o.expect = expected;
  o.streams = S().streams;
  o.prefix = prefix;
  o.pick = pick;
  o.shape = shape();
  o.seed = seed;
  o.max_events = static_cast<uint64_t>(S().max_events);
  o.duration = std::chrono::seconds(S().secs);
  auto r = es::bench::run_append_loop(o);
  if (!r.ok()) fail(w, r.status());
  if (r->errors > 0) throw std::runtime_error(w + " append: " + r->first_error.to_string());
  return std::move(r).value();
}

// W1 and W4: one client, one event per request, wait for the ack each time,
// round-robin over the streams. W4 sends an expectation with every append:
// no-stream for a stream's first event (the peers' "empty version"), then
// exact(the version the last ack gave).
void single_client(const std::string& w, bool expected) {
  auto r = append_loop(w, g_endpoint, 1, 1, expected, es::bench::StreamPick::kRoundRobin,
                       expected ? "w4-" : "w1-", static_cast<uint64_t>(now_ns()) ^ 0x1111);
  out(w + "_n", std::to_string(r.events));
  outf(w + "_evps", static_cast<double>(r.events) / r.secs, 0);
  out_lat(w, r.latency_ns);
}

// W2: PB_W2_CLIENTS threads, each with its own es::Client, random w2-* streams.
void w2() {
  auto r = append_loop("W2", g_endpoint, S().w2_clients, 1, false, es::bench::StreamPick::kRandom,
                       "w2-", 1);
  out("W2_clients", std::to_string(S().w2_clients));
  out("W2_n", std::to_string(r.events));
  outf("W2_evps", static_cast<double>(r.events) / r.secs, 0);
  out_lat("W2", r.latency_ns);
}

// ------------------------------------------------------------------ ceiling
// What the machine allows an append, measured in the same run: a round trip
// through es::Client to a ROUTER loop that does no work (a child esbench
// started with --echo-router, answering every request with an empty append
// result), with 1 and with W2's clients; and a 4 KiB overwrite + fdatasync
// of a zero-filled file of the journal's default size, as the journal writes.
// The W1 ceiling is 1 / (round-trip p50 + flush p50); the W2 ceiling is the
// round-trip rate with W2's clients.
//
// Then the same ROUTER loop made durable (--echo-router ENDPOINT FILE): it
// takes every request that has arrived, writes one 4 KiB block of FILE (a
// zero-filled 128 MiB file, overwritten in turn) with O_DIRECT | O_DSYNC as
// the journal does, and answers them all: group commit with no event work.
// On this VM a flush that follows an idle gap (the round trip) is slower
// than one of a back-to-back loop, which 1 / (round trip + flush) cannot
// show; this loop pays what a durable server pays.

// A zero-filled file of `bytes`, synced, for the durable echo.
int open_flush_file(const std::string& path, long bytes) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  const bool filled = zero_fill(fd, bytes);
  ::close(fd);
  if (!filled) return -1;
  // As the journal: O_DIRECT | O_DSYNC, or a buffered write and fdatasync.
  fd = ::open(path.c_str(), O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
  return fd >= 0 ? fd : ::open(path.c_str(), O_RDWR | O_CLOEXEC);
}

// Writes 4 KiB blocks of the durable echo's file, in turn, from up to
// `threads` threads at once (one: inline, on the caller's thread).
class EchoFlusher {
 public:
  EchoFlusher(int fd, bool direct, int threads) : fd_(fd), direct_(direct) {
    block_ = static_cast<char*>(std::aligned_alloc(kBlock, kBlock));
    std::memset(block_, 'x', kBlock);
    if (::pipe2(done_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) die("pipe");
    if (threads > 1) {
      for (int i = 0; i < threads; ++i) pool_.emplace_back([this] { serve(); });
    }
    max_in_flight_ = threads;
  }
  int done_fd() const { return done_pipe_[0]; }
  bool can_start() const { return in_flight_ < max_in_flight_; }
  bool pooled() const { return !pool_.empty(); }
  // Starts group `seq`'s write (inline: writes it, done at return).
  void start(std::uint64_t seq) {
    const off_t off = next_offset();
    if (pool_.empty()) return write_at(off);
    ++in_flight_;
    std::lock_guard lock(mu_);
    jobs_.push_back({seq, off});
    wake_.notify_one();
  }
  // The groups whose writes have returned since the last call.
  std::vector<std::uint64_t> finished() {
    char drain[256];
    while (::read(done_pipe_[0], drain, sizeof drain) > 0) {
    }
    std::lock_guard lock(mu_);
    std::vector<std::uint64_t> out(done_.begin(), done_.end());
    done_.clear();
    in_flight_ -= static_cast<int>(out.size());
    return out;
  }

 private:
  static constexpr std::size_t kBlock = 4096;
  static constexpr long kSlots = (128L << 20) / static_cast<long>(kBlock);
  [[noreturn]] static void die(const char* what) {
    std::fprintf(stderr, "echo router: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
  }
  off_t next_offset() {
    slot_ = slot_ + 1 < kSlots ? slot_ + 1 : 1;
    return static_cast<off_t>(slot_ * static_cast<long>(kBlock));
  }
  void write_at(off_t off) {
    if (::pwrite(fd_, block_, kBlock, off) != static_cast<ssize_t>(kBlock)) die("write");
    if (!direct_ && ::fdatasync(fd_) != 0) die("fdatasync");
  }
  void serve() {
    for (;;) {
      std::pair<std::uint64_t, off_t> job;
      {
        std::unique_lock lock(mu_);
        wake_.wait(lock, [&] { return !jobs_.empty(); });
        job = jobs_.front();
        jobs_.pop_front();
      }
      write_at(job.second);
      {
        std::lock_guard lock(mu_);
        done_.push_back(job.first);
      }
      const char one = 1;
      (void)!::write(done_pipe_[1], &one, 1);
    }
  }
  int fd_;
  bool direct_;
  char* block_ = nullptr;
  long slot_ = 0;
  int done_pipe_[2] = {-1, -1};
  int in_flight_ = 0;
  int max_in_flight_ = 1;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<std::uint64_t, off_t>> jobs_;
  std::vector<std::uint64_t> done_;
  std::vector<std::thread> pool_;  // never joined: the child ends on SIGTERM
};

// The child's loop (esbench --echo-router ENDPOINT [FILE [IN_FLIGHT]]);
// ends on SIGTERM. With FILE, each group of requests is answered after its
// block is written; with IN_FLIGHT > 1, up to that many groups' writes run
// at once (on threads) and groups are answered in order.
int echo_router(const std::string& endpoint, const std::string& flush_path, int in_flight) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  std::unique_ptr<EchoFlusher> flusher;
  if (!flush_path.empty()) {
    int fd = open_flush_file(flush_path, 128L << 20);
    if (fd < 0) {
      std::fprintf(stderr, "echo router: %s: %s\n", flush_path.c_str(), std::strerror(errno));
      return 1;
    }
    const bool direct = (::fcntl(fd, F_GETFL) & O_DIRECT) != 0;
    flusher = std::make_unique<EchoFlusher>(fd, direct, std::max(1, in_flight));
  }
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.bind(endpoint);
  struct Pending {
    zmq::message_t id;
    std::string reply;
  };
  using Group = std::vector<Pending>;
  Group forming;
  std::map<std::uint64_t, Group> writing;  // by sequence
  std::set<std::uint64_t> written;
  std::uint64_t next_seq = 1, next_answer = 1;
  auto answer = [&](Group& g) {
    for (auto& p : g) {
      router.send(p.id, zmq::send_flags::sndmore);
      router.send(zmq::buffer(p.reply));
    }
  };
  const bool pooled = flusher && flusher->pooled();
  for (;;) {
    zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, pooled ? flusher->done_fd() : -1, ZMQ_POLLIN, 0}};
    zmq::poll(items, pooled ? 2 : 1, std::chrono::milliseconds(-1));
    if (pooled && (items[1].revents & ZMQ_POLLIN)) {
      for (std::uint64_t seq : flusher->finished()) written.insert(seq);
      while (written.erase(next_answer) == 1) {
        answer(writing[next_answer]);
        writing.erase(next_answer++);
      }
    }
    // The group is what has arrived.
    for (;;) {
      zmq::message_t id, frame;
      if (!router.recv(id, zmq::recv_flags::dontwait)) break;
      if (!router.recv(frame)) continue;
      auto header = es::protocol::decode_header(
          std::string_view(static_cast<const char*>(frame.data()), frame.size()));
      if (!header.ok()) continue;
      std::string reply;
      if (header->kind == es::protocol::Kind::kHello) {
        es::protocol::HelloReply h{endpoint, ES_VERSION, "primary", 0, 1000};
        reply = es::protocol::encode(es::protocol::Kind::kHelloOk, header->request_id, h);
      } else {
        es::AppendResult r;
        r.streams.push_back(es::StreamWritten{"x", 1, 0, 0, 1, 1});
        reply = es::protocol::encode(es::protocol::Kind::kAppendOk, header->request_id, r);
      }
      forming.push_back(Pending{std::move(id), std::move(reply)});
    }
    if (forming.empty()) continue;
    if (!flusher) {
      answer(forming);
      forming.clear();
    } else if (!pooled) {
      flusher->start(next_seq++);
      answer(forming);
      forming.clear();
    } else if (flusher->can_start()) {
      writing[next_seq] = std::move(forming);
      forming.clear();
      flusher->start(next_seq++);
    }
  }
}

// Round trips through es::Client to an echo router (durable with a
// `flush_path`) with 1 and with W2's clients: `prefix`1_per_s, _p50_us, ...
// Returns the 1-client p50 in µs.
double echo_rounds(const std::string& prefix, const std::string& flush_path) {
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(free_loopback_port());
  std::vector<std::string> args = {"/proc/self/exe", "--echo-router", endpoint};
  if (!flush_path.empty()) {
    args.push_back(flush_path);
    args.push_back(std::to_string(std::max(1L, env_long("ESB_ECHO_IN_FLIGHT", 1))));
  }
  pid_t pid = spawn_child(args, 1, 2);
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  double p50_one = 0;
  try {
    // The child binds as it starts (after making its file): wait until it
    // answers (bounded: 30 s), or the first round trip finds nothing.
    es::Client probe(endpoint, es::ClientOptions{std::chrono::milliseconds(200)});
    const int64_t until = now_ns() + 30'000'000'000LL;
    while (!probe.hello().ok()) {
      if (now_ns() > until) throw std::runtime_error("the echo router did not answer within 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (long clients : {1L, S().w2_clients}) {
      std::fprintf(stderr, "== ceiling: round trips to %s ROUTER, %ld client(s)\n",
                   flush_path.empty() ? "an idle" : "a durable (group commit)", clients);
      auto r = append_loop("ceiling", endpoint, clients, 1, false, es::bench::StreamPick::kRandom,
                           "c-", 1);
      const std::string m = prefix + std::to_string(clients);
      outf(m + "_per_s", static_cast<double>(r.events) / r.secs, 0);
      const double p50_us = es::bench::summarize(r.latency_ns).p50_us;
      outf(m + "_p50_us", p50_us);
      if (clients == 1) p50_one = p50_us;
    }
  } catch (...) {
    stop_child(pid, 5);
    throw;
  }
  stop_child(pid, 5);
  return p50_one;
}

void ceiling_step(const std::string& dir) {
  const double secs = static_cast<double>(S().disk_secs);
  std::fprintf(stderr, "== ceiling: 4 KiB overwrite + fdatasync of a 128 MiB file, %.0f s\n", secs);
  DiskResult flush = fsync_bench(dir + "/esbench-journal.dat", secs, false, 1000000, 128L << 20);
  outf("ceiling_flush_per_s", flush.per_s, 0);
  out("ceiling_flush_p50_us", std::to_string(flush.p50));
  const double rt1_p50_us = echo_rounds("ceiling_rt", "");
  outf("ceiling_W1_evps", 1e6 / (rt1_p50_us + flush.p50), 0);
  const std::string file = dir + "/esbench-echo-journal.dat";
  echo_rounds("ceiling_durable", file);
  ::unlink(file.c_str());
}

// W3: one client, PB_BATCH events per append to one stream, w3-* round-robin.
void w3() {
  auto r = append_loop("W3", g_endpoint, 1, S().batch, false, es::bench::StreamPick::kRoundRobin,
                       "w3-", 0x3333);
  out("W3_batch", std::to_string(S().batch));
  out("W3_n", std::to_string(r.events));
  outf("W3_evps", static_cast<double>(r.events) / r.secs, 0);
  out_lat("W3_batch", r.latency_ns);
}

// W4: first proves a stale expected version is refused, then W1 with an
// expectation on every append.
void w4(es::Client& c) {
  Rng rng(0x4444);
  std::string s = "w4check-" + std::to_string(now_ns());
  auto one = [&](uint64_t seq, es::ExpectedVersion x) {
    es::AppendRequest rq;
    rq.events.push_back(make_event(rng, seq, s));
    rq.expectations.push_back({s, x});
    return c.append(rq);
  };
  bool ok = true;
  auto first = one(1, es::ExpectedVersion::no_stream());  // creates it at version 0
  if (!first.ok()) fail("W4 check: first append", first.status());
  es::Version v = first->streams.at(0).last_version;
  auto at_v = one(2, es::ExpectedVersion::exact(v));  // at v: ok, now v+1
  ok = ok && at_v.ok();
  auto stale = one(3, es::ExpectedVersion::exact(v));  // at v again: stale, must be refused
  ok = ok && !stale.ok() && stale.status().code() == es::Code::kWrongExpectedVersion &&
       stale.status().actual_version() == std::optional<uint64_t>(v + 1);
  auto next = one(4, es::ExpectedVersion::exact(v + 1));  // at v+1: ok
  ok = ok && next.ok() && next->streams.at(0).last_version == v + 2;
  auto stale_new = one(5, es::ExpectedVersion::no_stream());  // the stream exists now
  ok = ok && !stale_new.ok() && stale_new.status().code() == es::Code::kWrongExpectedVersion;
  check("W4_conflict_detected", ok);
  single_client("W4", true);
}

// ------------------------------------------------------------------ W7 and W8
// Both measure append ack -> receipt at a steady rate; they differ only in the
// receiver (W7: es::Subscription in this process; W8: `es tail` output).

// What W7, W8 and W9 share (lib/bench/delivery.h): every id made before the
// run (so the receiver matches an event by id), open-loop writers recording
// send and ack times, the receipt times and the counts.
using es::bench::DeliveryRun;

std::unique_ptr<DeliveryRun> delivery_run(const std::string& w, long rate, long secs,
                                          uint64_t seed) {
  es::bench::DeliveryOptions o;
  o.name = w;
  std::string lower = w;
  lower[0] = 'w';
  o.prefix = lower + "-";
  o.warm_stream = lower + "warm-0";
  o.streams = S().streams;
  o.endpoint = g_endpoint;
  o.timeout = client_options().timeout;
  o.rate = rate;
  o.events = rate * secs;
  o.writers = S().w7_writers;
  o.shape = shape();
  o.seed = seed;
  o.drain = std::chrono::milliseconds(S().w7_drain_ms);
  auto run = DeliveryRun::make(o);
  if (!run.ok()) fail(w, run.status());
  return std::move(run).value();
}

void report_delivery(DeliveryRun& run) {
  const std::string& w = run.options().name;
  es::bench::DeliveryResult r = es::bench::results(run);
  out(w + "_target_evps", std::to_string(run.options().rate));
  out(w + "_writers", std::to_string(run.options().writers));
  outf(w + "_sent_evps", r.sent_per_s, 0);
  out(w + "_sent", std::to_string(r.sent));
  out(w + "_received", std::to_string(r.received));
  out(w + "_missing", std::to_string(r.sent - r.received));
  out(w + "_dups", std::to_string(r.dups));
  out(w + "_recv_before_ack", std::to_string(r.received_before_ack));
  out(w + "_foreign", std::to_string(r.foreign));
  out(w + "_malformed", std::to_string(r.malformed));
  out_lat(w, r.from_ack_ns, true);             // append ack -> receipt
  out_lat(w + "_send", r.from_send_ns, true);  // append call -> receipt
  // Delivery, not the rate: every acked event exactly once, nothing else.
  // (A disk too slow for the target rate shows in <w>_sent_evps, as for the peers.)
  check(w + "_complete", r.complete());
}

// The part W7, W8 and W9 share, with the receiver already started: warm-up,
// writers, drain, report (lib/bench's measure()).
void measure_delivery(es::Client& c, DeliveryRun& run,
                      const std::function<std::string()>& stop_receiver) {
  es::Status s = es::bench::measure(c, run, stop_receiver);
  if (!s.ok()) throw std::runtime_error(s.message());
  report_delivery(run);
}

es::Position next_position(es::Client& c, const std::string& w) {
  auto hd = c.hello();
  if (!hd.ok()) fail(w + " head", hd.status());
  return hd->head + 1;
}

void subscribe_and_report(es::Client& c, DeliveryRun& run, const std::string& endpoint);

// W7: a subscriber (es::Subscription from head+1, everything) and
// PB_W7_WRITERS writers on an open-loop schedule totalling PB_W7_RATE ev/s.
// Latency = receipt time in the subscriber - ack time in the writer, matched
// by event id, same steady clock, same process.
void w7(es::Client& c) {
  auto run = delivery_run("W7", S().w7_rate, S().w7_secs, 0x7777);
  subscribe_and_report(c, *run, g_endpoint);
}

// W7's receiver (es::Subscription in this process, from the head on), on
// the node of `endpoint`.
void subscribe_and_report(es::Client& c, DeliveryRun& run, const std::string& endpoint) {
  es::Status s = es::bench::subscribe_and_measure(c, run, endpoint);
  if (!s.ok()) throw std::runtime_error(s.message());
  report_delivery(run);
}

// The event id, stream and data of one `es tail` line, by substring search:
// the fields come in a fixed order (es::append_event_json), and our stream
// names need no escaping. "data" is the rest of the line (data_seq reads only
// its start).
bool parse_tail_line(std::string_view line, es::Uuid* id, std::string_view* stream,
                     std::string_view* data) {
  static constexpr std::string_view kStream = "\"stream\":\"", kId = ",\"id\":\"",
                                    kData = ",\"data\":";
  size_t s = line.find(kStream);
  if (s == std::string_view::npos) return false;
  s += kStream.size();
  size_t s_end = line.find('"', s);
  if (s_end == std::string_view::npos) return false;
  size_t i = line.find(kId, s_end);
  if (i == std::string_view::npos || i + kId.size() + 36 > line.size()) return false;
  auto parsed = es::Uuid::parse(line.substr(i + kId.size(), 36));
  if (!parsed.ok()) return false;
  size_t d = line.find(kData, i);
  if (d == std::string_view::npos) return false;
  *id = *parsed;
  *stream = line.substr(s, s_end - s);
  *data = line.substr(d + kData.size());
  return true;
}

// W8's receiver: reads `es tail`'s stdout, stamps each line as the read that
// completed it returns, and hands it to run.receipt. Ends at EOF (es ended),
// on a read error, at `deadline`, or 5 s after `stop` (so lines es wrote
// before it was stopped are still counted).
void read_tail_lines(int fd, DeliveryRun& run, const std::atomic<bool>& stop, int64_t deadline,
                     std::string* err) {
  constexpr size_t kMaxLine = 1 << 20;  // es lines here are ~400 bytes
  std::string buf;
  char chunk[65536];
  int64_t stop_seen = 0;
  for (long reads = 0; reads < 100'000'000; reads++) {
    int64_t now = now_ns();
    if (now > deadline) {
      *err = "es tail output still open at the reader's deadline";
      break;
    }
    if (stop.load()) {
      if (stop_seen == 0) stop_seen = now;
      if (now - stop_seen > 5'000'000'000LL) break;
    }
    pollfd p{fd, POLLIN, 0};
    int pr = ::poll(&p, 1, 100);
    if (pr < 0 && errno != EINTR) {
      *err = std::string("poll: ") + std::strerror(errno);
      break;
    }
    if (pr <= 0) continue;
    ssize_t got = ::read(fd, chunk, sizeof chunk);
    int64_t t = now_ns();
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got < 0) {
      *err = std::string("read: ") + std::strerror(errno);
      break;
    }
    if (got == 0) {
      if (!stop.load()) *err = "es tail ended (see es-tail.log in the work dir)";
      break;
    }
    buf.append(chunk, static_cast<size_t>(got));
    size_t begin = 0;
    for (size_t nl; (nl = buf.find('\n', begin)) != std::string::npos; begin = nl + 1) {
      std::string_view line(buf.data() + begin, nl - begin);
      es::Uuid id;
      std::string_view stream, data;
      if (parse_tail_line(line, &id, &stream, &data)) {
        run.receipt(id, stream, data, t);
      } else {
        run.malformed++;
      }
    }
    buf.erase(0, begin);
    if (buf.size() > kMaxLine) {  // no newline in sight: count it, resync at the next one
      run.malformed++;
      buf.clear();
    }
  }
  if (!err->empty()) run.receiver_failed = true;
}

std::string g_es_path;   // the es binary (W8)
std::string g_work_dir;  // esbench's work dir (W8 puts es-tail.log there)

// W8: W7 with `es tail --all --from <head+1>` as the receiver, its stdout on
// a pipe read by a thread here. Latency = the time a line arrives on the pipe
// - the ack time in the writer: es's receive, JSON formatting, per-line flush
// and the pipe, on top of W7's path.
void w8(es::Client& c) {
  if (::access(g_es_path.c_str(), X_OK) != 0)
    throw std::runtime_error("W8: cannot execute the es binary " + g_es_path + " (" +
                             std::strerror(errno) + "); build the target es or give --es PATH");
  auto run_ptr = delivery_run("W8", S().w8_rate, S().w8_secs, 0x8888);
  DeliveryRun& run = *run_ptr;
  const es::Position from = next_position(c, "W8");
  const std::string log_path = g_work_dir + "/es-tail.log";
  int logfd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logfd < 0) throw std::runtime_error("open " + log_path + ": " + std::strerror(errno));
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) {
    ::close(logfd);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  pid_t pid =
      spawn_child({g_es_path, "-s", g_endpoint, "tail", "--all", "--from", std::to_string(from)},
                  pipefd[1], logfd);
  int fork_errno = errno;
  ::close(pipefd[1]);  // ours closed, so EOF comes when es ends
  ::close(logfd);
  if (pid < 0) {
    ::close(pipefd[0]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(fork_errno));
  }
  // The reader's own bound: warm-up, the writers' hard stop, drain, and slack.
  const int64_t deadline =
      now_ns() + (10 + S().w8_secs * 3 + 5 + 30) * 1'000'000'000LL + S().w7_drain_ms * 1000000LL;
  std::atomic<bool> stop{false};
  std::string reader_err;
  std::thread reader([&] { read_tail_lines(pipefd[0], run, stop, deadline, &reader_err); });
  std::string tail_exit;
  measure_delivery(c, run, [&] {
    // The reader keeps reading after `stop` until EOF (bounded), so it sees the
    // lines es wrote before SIGTERM (it exits 0 on it), and takes EOF as the end.
    stop = true;
    tail_exit = stop_child(pid, 5);
    reader.join();
    ::close(pipefd[0]);
    if (!reader_err.empty()) return reader_err + "; es exit status " + tail_exit;  // joined
    return tail_exit == "0" ? std::string() : "es tail exit status after SIGTERM: " + tail_exit;
  });
  out("W8_tail_exit", tail_exit);
}

// ------------------------------------------------------------------ W9 and W10
// A replica (esd --role replica --follow <the node>, its own data directory
// and durability) started from esbench.

std::string g_esd_path, g_durability;

Esd start_replica() {
  return start_esd(g_esd_path, g_work_dir + "/replica", g_durability, g_work_dir + "/replica.log",
                   {"--role", "replica", "--follow", g_endpoint});
}

// Polls the replica until its head reaches `target` (bounded: the read
// timeout); returns the seconds it took from `t0`.
double wait_for_head(const Esd& replica, es::Position target, int64_t t0) {
  es::Client rc(replica.endpoint, client_options());
  const int64_t deadline = now_ns() + S().read_timeout_s * 1'000'000'000LL;
  for (;;) {
    auto st = rc.status();
    if (st.ok() && st->head >= target) return secs_since(t0);
    if (now_ns() > deadline)
      throw std::runtime_error("the replica did not reach position " + std::to_string(target));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// W10: an empty replica catches up with the whole log (the preload);
// events copied per second, from its start to its head equal to the node's.
void w10(es::Client& c) {
  const es::Position target = next_position(c, "W10") - 1;
  const int64_t t0 = now_ns();
  Esd replica = start_replica();
  const double secs = wait_for_head(replica, target, t0);
  out("W10_events", std::to_string(target));
  outf("W10_secs", secs, 2);
  outf("W10_evps", static_cast<double>(target) / secs, 0);
  const std::string exit = stop_esd(replica);
  out("W10_replica_exit", exit);
  if (exit != "0") throw std::runtime_error("W10: the replica exited with " + exit);
}

// How many acknowledged events the replica lacked as it delivered each one:
// acked by then minus delivered by then (both on esbench's clock).
void report_lag_events(DeliveryRun& run) {
  std::vector<int64_t> acks, recvs;
  for (long i = 0; i < run.events(); i++) {
    const size_t u = static_cast<size_t>(i);
    if (run.t_ack[u] != 0) acks.push_back(run.t_ack[u]);
    if (run.t_recv[u] != 0) recvs.push_back(run.t_recv[u]);
  }
  std::sort(acks.begin(), acks.end());
  std::sort(recvs.begin(), recvs.end());
  std::vector<int64_t> lag;
  for (int64_t t : recvs) {
    auto acked = std::upper_bound(acks.begin(), acks.end(), t) - acks.begin();
    auto delivered = std::upper_bound(recvs.begin(), recvs.end(), t) - recvs.begin();
    lag.push_back(std::max<int64_t>(acked - delivered, 0));
  }
  std::sort(lag.begin(), lag.end());
  out("W9_lag_events_p50", std::to_string(es::bench::percentile(lag, 0.50)));
  out("W9_lag_events_p99", std::to_string(es::bench::percentile(lag, 0.99)));
  out("W9_lag_events_max", std::to_string(lag.empty() ? 0 : lag.back()));
}

// W9: replication lag. The replica (W10's, resuming from its head) catches
// up, then W7's writers append to the node at PB_W9_RATE while a
// subscriber on the replica times each event: append ack on the primary ->
// the event delivered by the replica (copied, committed durably, published).
void w9(es::Client& c) {
  Esd replica = start_replica();
  std::string exit;
  try {
    wait_for_head(replica, next_position(c, "W9") - 1, now_ns());
    auto run = delivery_run("W9", S().w9_rate, S().w9_secs, 0x9999);
    subscribe_and_report(c, *run, replica.endpoint);
    report_lag_events(*run);
  } catch (...) {
    stop_esd(replica);
    throw;
  }
  exit = stop_esd(replica);
  out("W9_replica_exit", exit);
  if (exit != "0") throw std::runtime_error("W9: the replica exited with " + exit);
}

// ------------------------------------------------------------------ steps

bool wants(const std::string& w) {
  return ("," + S().workloads + ",").find("," + w + ",") != std::string::npos;
}

// Before each write workload: flush every dirty page of the machine and pause
// (as the peers' driver does).
void settle() {
  long ms = S().settle_ms;
  if (ms <= 0) return;
  ::sync();
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

template <class F>
void run_step(const std::string& w, F&& f, bool writes = false) {
  if (!wants(w)) return;
  if (writes) settle();
  log(w + " ...");
  int64_t t0 = now_ns();
  try {
    f();
  } catch (const std::exception& ex) {
    out(w + "_error", ex.what());
    log("ERROR " + std::string(ex.what()));
    g_failed = true;
  }
  char b[64];
  std::snprintf(b, sizeof b, " done in %.2f s", secs_since(t0));
  log(w + b);
}

// ------------------------------------------------------------------ the report

double num(const std::string& s, bool* ok) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  *ok = !s.empty() && end && *end == '\0';
  return v;
}

// As report.py: microseconds with no decimals from 100 on, else one; rates
// without decimals; "-" when not measured, ERR when the workload failed.
std::string fmt(const std::string& metric) {
  auto it = g_out.find(metric);
  if (it == g_out.end()) return "-";
  bool ok = false;
  double x = num(it->second, &ok);
  if (!ok) return it->second;
  char b[64];
  bool us = metric.size() > 3 && metric.compare(metric.size() - 3, 3, "_us") == 0;
  std::snprintf(b, sizeof b, "%.*f", us && std::abs(x) < 100 ? 1 : 0, x);
  return b;
}
std::string cell(const std::string& metric) {
  std::string wl = metric.substr(0, metric.find('_'));
  if (g_out.count(wl + "_error")) return "ERR";
  return fmt(metric);
}
std::string disk(const std::string& m) {
  auto it = g_disk.find(m);
  return it == g_disk.end() ? "-" : it->second;
}

// W7's or W8's details table.
void print_delivery_details(const std::string& w, const char* receiver) {
  auto f = [&](const char* m) { return fmt(w + m); };
  std::printf("### %s details (receiver: %s)\n\n| measure | value |\n|---|---|\n", w.c_str(),
              receiver);
  std::printf("| sent ev/s (target) | %s (%s) |\n", f("_sent_evps").c_str(),
              f("_target_evps").c_str());
  std::printf("| writers | %s |\n", f("_writers").c_str());
  std::printf("| sent / received / missing / duplicate | %s / %s / %s / %s |\n", f("_sent").c_str(),
              f("_received").c_str(), f("_missing").c_str(), f("_dups").c_str());
  std::printf("| received before ack | %s |\n", f("_recv_before_ack").c_str());
  std::printf("| ack→receipt p50 / p90 / p99 / max µs | %s / %s / %s / %s |\n",
              f("_p50_us").c_str(), f("_p90_us").c_str(), f("_p99_us").c_str(),
              f("_max_us").c_str());
  std::printf("| send→receipt p50 / p90 / p99 / max µs | %s / %s / %s / %s |\n",
              f("_send_p50_us").c_str(), f("_send_p90_us").c_str(), f("_send_p99_us").c_str(),
              f("_send_max_us").c_str());
  std::printf("| events of other streams / malformed lines / all checks | %s / %s / %s |\n",
              f("_foreign").c_str(), f("_malformed").c_str(), f("_complete").c_str());
  if (g_out.count(w + "_error")) std::printf("| error | %s |\n", g_out[w + "_error"].c_str());
  std::printf("\n");
}

// a / b of two metrics, to two places ("-" when either is missing).
std::string ratio(const std::string& a, const std::string& b) {
  bool ok_a = false, ok_b = false;
  double x = g_out.count(a) ? num(g_out[a], &ok_a) : 0,
         y = g_out.count(b) ? num(g_out[b], &ok_b) : 0;
  if (!ok_a || !ok_b || y <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", x / y);
  return buf;
}

void print_report(const std::string& durability, const std::string& esd_exit,
                  const std::string& store_info) {
  const Settings& s = S();
  const bool durable = durability == "sync";
  std::printf("\n## esd results (%s)\n\n", g_label.c_str());
  std::printf(
      "Settings: streams=%ld all=%ld big=%ld secs=%ld max_events=%ld clients=%ld batch=%ld "
      "read_batch=%ld data_bytes=%ld W7 rate=%ld/s for %lds with %ld writers, drain_ms=%ld, "
      "W8 rate=%ld/s for %lds, settle_ms=%ld, disk_secs=%ld, ids=%s, workloads=%s.\n\n",
      s.streams, s.all_events, s.big_events, s.secs, s.max_events, s.w2_clients, s.batch,
      s.read_batch, s.data_bytes, s.w7_rate, s.w7_secs, s.w7_writers, s.w7_drain_ms, s.w8_rate,
      s.w8_secs, s.settle_ms, s.disk_secs, s.uuid_kind.c_str(), s.workloads.c_str());
  std::printf(
      "| config | durable | W1 ev/s | W1 p50 µs | W1 p99 µs | W2 ev/s (%ld cl) | W2 p99 µs | "
      "W3 ev/s (×%ld) | W4 ev/s | W5 ev/s | W6 ev/s | W7 p50 µs | W7 p99 µs |\n",
      s.w2_clients, s.batch);
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %s | %s |", g_label.c_str(), durable ? "yes" : "no");
  for (const char* m : {"W1_evps", "W1_p50_us", "W1_p99_us", "W2_evps", "W2_p99_us", "W3_evps",
                        "W4_evps", "W5_evps", "W6_evps", "W7_p50_us", "W7_p99_us"})
    std::printf(" %s |", cell(m).c_str());
  std::printf("\n\n");
  std::printf("Ack means: %s\n\n",
              durable ? "the commit group's journal frame written and fdatasynced before the reply "
                        "(LMDB is brought up to date afterwards, with its full sync)"
                      : "(unknown durability)");
  if (wants("ceiling")) {
    std::printf("### Ceilings (same run)\n\n| measure | value |\n|---|---|\n");
    std::printf("| round trip to an idle ROUTER, 1 client: rate / p50 µs | %s / %s |\n",
                fmt("ceiling_rt1_per_s").c_str(), fmt("ceiling_rt1_p50_us").c_str());
    const std::string rtc = "ceiling_rt" + std::to_string(s.w2_clients);
    std::printf("| round trip to an idle ROUTER, %ld clients: rate / p50 µs | %s / %s |\n",
                s.w2_clients, fmt(rtc + "_per_s").c_str(), fmt(rtc + "_p50_us").c_str());
    std::printf("| 4 KiB overwrite + fdatasync of a 128 MiB file: rate / p50 µs | %s / %s |\n",
                fmt("ceiling_flush_per_s").c_str(), fmt("ceiling_flush_p50_us").c_str());
    std::printf("| W1 ceiling, 1 / (round-trip p50 + flush p50) (ev/s) | %s |\n",
                fmt("ceiling_W1_evps").c_str());
    std::printf("| W1 / its ceiling; W2 / the %ld-client round-trip rate | %s; %s |\n",
                s.w2_clients, ratio("W1_evps", "ceiling_W1_evps").c_str(),
                ratio("W2_evps", rtc + "_per_s").c_str());
    const std::string dc = "ceiling_durable" + std::to_string(s.w2_clients);
    std::printf(
        "| round trip to a durable ROUTER (a 4 KiB O_DIRECT+O_DSYNC write per group), 1 client: "
        "rate / p50 µs | %s / %s |\n",
        fmt("ceiling_durable1_per_s").c_str(), fmt("ceiling_durable1_p50_us").c_str());
    std::printf("| the same, %ld clients: rate / p50 µs | %s / %s |\n", s.w2_clients,
                fmt(dc + "_per_s").c_str(), fmt(dc + "_p50_us").c_str());
    std::printf(
        "| W1 / the durable ROUTER's 1-client rate; W2 / its %ld-client rate | %s; %s |\n\n",
        s.w2_clients, ratio("W1_evps", "ceiling_durable1_per_s").c_str(),
        ratio("W2_evps", dc + "_per_s").c_str());
  }

  std::printf("### The disk (same run, data directory's filesystem)\n\n");
  std::printf("| measure | value |\n|---|---|\n");
  std::printf("| 4 KiB append + fdatasync, 1 thread (ops/s) | %s |\n",
              disk("fsync_append_per_s").c_str());
  std::printf("|   p50 / p99 latency (µs) | %s / %s |\n", disk("fsync_append_p50_us").c_str(),
              disk("fsync_append_p99_us").c_str());
  std::printf("| 4 KiB overwrite + fdatasync, 1 thread (ops/s) | %s |\n",
              disk("fsync_overwrite_per_s").c_str());
  std::printf("|   p50 / p99 latency (µs) | %s / %s |\n", disk("fsync_overwrite_p50_us").c_str(),
              disk("fsync_overwrite_p99_us").c_str());
  std::printf("| 4 KiB append + fdatasync again at the END (ops/s) | %s |\n",
              disk("fsync_append_end_per_s").c_str());
  std::printf("|   p50 latency (µs) | %s |\n", disk("fsync_append_end_p50_us").c_str());
  for (const char* m : {"disk_error", "disk_end_error"})
    if (g_disk.count(m)) std::printf("| %s | %s |\n", m, g_disk[m].c_str());
  std::printf("\n");

  print_delivery_details("W7", "es::Subscription in esbench");
  if (wants("W8")) print_delivery_details("W8", "`es tail` output, read from a pipe");
  if (wants("W9")) {
    print_delivery_details("W9", "es::Subscription on a replica: replication lag");
    std::printf("W9 events the replica lacked as it delivered each one: p50 %s, p99 %s, max %s\n\n",
                fmt("W9_lag_events_p50").c_str(), fmt("W9_lag_events_p99").c_str(),
                fmt("W9_lag_events_max").c_str());
  }
  if (wants("W10")) {
    std::printf("W10 an empty replica caught up with %s events in %s s: %s ev/s\n\n",
                fmt("W10_events").c_str(), fmt("W10_secs").c_str(), fmt("W10_evps").c_str());
  }

  std::printf("### Details and checks\n\n| measure | value |\n|---|---|\n");
  std::vector<std::pair<std::string, std::vector<std::string>>> rows = {
      {"preload all (ev/s, 1000 per append)", {"preload_all_evps"}},
      {"preload big (ev/s)", {"preload_big_evps"}},
      {"W1 n / max µs", {"W1_n", "W1_max_us"}},
      {"W2 n / p50 µs", {"W2_n", "W2_p50_us"}},
      {"W3 n / batch p50 / p99 µs", {"W3_n", "W3_batch_p50_us", "W3_batch_p99_us"}},
      {"W4 n / p50 / p99 µs", {"W4_n", "W4_p50_us", "W4_p99_us"}},
      {"W4 stale version refused", {"W4_conflict_detected"}},
      {"W5 n / complete / ordered / bodies intact",
       {"W5_n", "W5_complete", "W5_order_ok", "W5_data_ok"}},
      {"W6 n / complete / ordered / bodies intact",
       {"W6_n", "W6_complete", "W6_order_ok", "W6_data_ok"}},
  };
  for (auto& [name, ms] : rows) {
    std::string v;
    for (size_t i = 0; i < ms.size(); i++) v += (i ? " / " : "") + fmt(ms[i]);
    std::printf("| %s | %s |\n", name.c_str(), v.c_str());
  }
  std::printf("| store at the end | %s |\n", store_info.c_str());
  std::printf("| esd exit status after SIGTERM | %s |\n", esd_exit.c_str());
  std::vector<std::string> errs;
  for (auto& [k, v] : g_out)
    if (k.size() > 6 && k.compare(k.size() - 6, 6, "_error") == 0) errs.push_back(k + ": " + v);
  if (!errs.empty()) {
    std::printf("\n### Errors\n\n");
    for (auto& e : errs) std::printf("- %s\n", e.c_str());
  }
  std::fflush(stdout);
}

void usage(const char* argv0) {
  std::fprintf(
      stderr,
      "usage: %s --esd PATH [--es PATH] [--quick] [--data DIR] [--durability sync|nometasync] "
      "[--keep]\n"
      "  --esd PATH        the esd binary to start\n"
      "  --es PATH         the es binary W8 runs (default: ESD_DIR/../cmd/es)\n"
      "  --quick           the peers' QUICK sizes (100k log, 10k stream, 2 s per write workload)\n"
      "  --data DIR        esd's data directory (must hold no store; default: a fresh temp dir)\n"
      "  --durability D    passed to esd; the config is then named esd-D (default esd-sync)\n"
      "  --keep            keep the temp dir (data, esd.log) at the end\n"
      "Environment: the peers' PB_* variables, PB_W8_RATE, PB_W8_SECS, PB_W9_RATE, PB_W9_SECS, "
      "DISK_SECS, SKIP_DISK, "
      "ESB_UUID=v4|v7.\n",
      argv0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && argc <= 5 && std::string(argv[1]) == "--echo-router")
    return echo_router(argv[2], argc >= 4 ? argv[3] : "", argc == 5 ? std::atoi(argv[4]) : 1);
  std::string esd_path, es_path, data_arg, durability;
  bool quick = false, keep = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage(argv[0]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--esd")
      esd_path = value();
    else if (a == "--es")
      es_path = value();
    else if (a == "--data")
      data_arg = value();
    else if (a == "--durability")
      durability = value();
    else if (a == "--quick")
      quick = true;
    else if (a == "--keep")
      keep = true;
    else if (a == "-h" || a == "--help") {
      usage(argv[0]);
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      usage(argv[0]);
      return 2;
    }
  }
  if (esd_path.empty()) {
    usage(argv[0]);
    return 2;
  }
  if (::access(esd_path.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "cannot execute %s: %s\n", esd_path.c_str(), std::strerror(errno));
    return 2;
  }
  if (!durability.empty() && durability != "sync" && durability != "nometasync") {
    std::fprintf(stderr, "--durability must be sync or nometasync\n");
    return 2;
  }
  // es is built next to esd (build/daemon/esd, build/cmd/es); W8 checks it.
  g_es_path = !es_path.empty()
                  ? es_path
                  : (std::filesystem::path(esd_path).parent_path() / ".." / "cmd" / "es")
                        .lexically_normal()
                        .string();
  Settings settings(quick);
  g_settings = &settings;
  if (settings.streams <= 0 || settings.read_batch <= 0 || settings.batch <= 0 ||
      settings.w2_clients <= 0 || settings.data_bytes < 170 || settings.w7_rate <= 0 ||
      settings.w8_rate <= 0 || settings.w9_rate <= 0) {
    std::fprintf(stderr,
                 "PB_STREAMS, PB_READ_BATCH, PB_BATCH, PB_W2_CLIENTS, PB_W7_RATE, PB_W8_RATE, "
                 "PB_W9_RATE must "
                 "be > 0 and PB_DATA_BYTES >= 170\n");
    return 2;
  }
  if (settings.read_batch > static_cast<long>(es::kMaxReadLimit) ||
      settings.batch > static_cast<long>(es::kMaxAppendEvents)) {
    std::fprintf(stderr, "PB_READ_BATCH or PB_BATCH beyond es's limits\n");
    return 2;
  }
  g_label = "esd-" + (durability.empty() ? std::string("sync") : durability);
  std::signal(SIGPIPE, SIG_IGN);

  // A work dir for esd's log (and its data unless --data).
  std::string tmpl = env_str("TMPDIR", "/tmp") + "/esbench-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    std::fprintf(stderr, "mkdtemp %s: %s\n", tmpl.c_str(), std::strerror(errno));
    return 1;
  }
  const std::string work = tmpl;
  g_work_dir = work;
  g_esd_path = esd_path;
  g_durability = durability;
  const std::string data = data_arg.empty() ? work + "/data" : data_arg;
  std::error_code ec;
  std::filesystem::create_directories(data, ec);
  if (ec) {
    std::fprintf(stderr, "cannot create %s: %s\n", data.c_str(), ec.message().c_str());
    return 1;
  }
  if (std::filesystem::exists(data + "/data.mdb")) {
    std::fprintf(stderr, "%s already holds a store; esbench needs an empty one\n", data.c_str());
    return 2;
  }
  std::fprintf(stderr, "== esbench %s (%s), work dir %s, data %s\n", g_label.c_str(),
               quick ? "quick" : "full", work.c_str(), data.c_str());

  emit(g_label + "@1", "settings",
       "streams=" + std::to_string(settings.streams) + " all=" +
           std::to_string(settings.all_events) + " big=" + std::to_string(settings.big_events) +
           " secs=" + std::to_string(settings.secs) +
           " data_bytes=" + std::to_string(settings.data_bytes));
  disk_step(data, false);
  run_step("ceiling", [&] { ceiling_step(data); });

  Esd esd;
  try {
    esd = start_esd(esd_path, data, durability, work + "/esd.log");
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "cannot start esd: %s (work dir kept: %s)\n", ex.what(), work.c_str());
    return 1;
  }
  g_endpoint = esd.endpoint;
  std::fprintf(stderr, "== esd pid %d on %s, log %s\n", static_cast<int>(esd.pid),
               esd.endpoint.c_str(), esd.log_path.c_str());

  std::string store_info = "-";
  {
    es::Client c(g_endpoint, client_options());
    auto st = c.status();
    if (!st.ok() || st->head != 0) {
      std::fprintf(stderr, "esd status: %s\n",
                   st.ok() ? "the store is not empty" : st.status().to_string().c_str());
      g_failed = true;
    } else {
      const std::string want = durability.empty() ? "sync" : durability;
      if (st->durability != want) {
        std::fprintf(stderr, "esd reports durability %s, expected %s\n", st->durability.c_str(),
                     want.c_str());
        g_failed = true;
      }
    }
    if (!g_failed) {
      Rng rng(0xABCDEF);
      const long streams = settings.streams;
      run_step("preload", [&] {
        preload(
            c, rng, settings.all_events, [&](long i) { return sname("load-", i % streams); },
            "preload_all_evps");
      });
      run_step(
          "W10", [&] { w10(c); }, true);
      run_step("W6", [&] { w6(c); });
      run_step("preload", [&] {
        preload(
            c, rng, settings.big_events, [](long) { return std::string("big-0"); },
            "preload_big_evps");
      });
      run_step("W5", [&] { w5(c); });
      run_step(
          "W1", [&] { single_client("W1", false); }, true);
      run_step(
          "W2", [&] { w2(); }, true);
      run_step(
          "W3", [&] { w3(); }, true);
      run_step(
          "W4", [&] { w4(c); }, true);
      run_step(
          "W7", [&] { w7(c); }, true);
      run_step(
          "W8", [&] { w8(c); }, true);
      run_step(
          "W9", [&] { w9(c); }, true);
      auto st2 = c.status();
      if (st2.ok()) {
        char b[256];
        std::snprintf(b, sizeof b,
                      "head %" PRIu64 ", %" PRIu64
                      " streams, data.mdb %.1f MiB, map %.0f MiB, "
                      "%" PRIu64 " appends, %" PRIu64 " conflicts",
                      st2->head, st2->streams, static_cast<double>(st2->store_bytes) / 1048576.0,
                      static_cast<double>(st2->map_bytes) / 1048576.0, st2->appends,
                      st2->conflicts);
        store_info = b;
      }
    }
  }
  std::fprintf(stderr, "== stopping esd (SIGTERM)\n");
  std::string esd_exit = stop_esd(esd);
  out("esd_exit", esd_exit);
  if (esd_exit != "0") g_failed = true;
  disk_step(data, true);
  print_report(durability.empty() ? "sync" : durability, esd_exit, store_info);

  if (g_failed || keep) {
    std::fprintf(stderr, "== %s; work dir kept: %s\n", g_failed ? "FAILED" : "done", work.c_str());
  } else {
    std::filesystem::remove_all(work, ec);  // the log, and the data unless --data put it elsewhere
  }
  return g_failed ? 1 : 0;
}

// projection/sandbox.h
//
// Where user-supplied jq runs: a worker process of its own (esd's hosted
// projections, and the checks of es project add / reset), so that a crash,
// a loop or a leak in jq costs that worker and nothing else.
//
// A worker is spawned with no environment (but the sanitizers' options),
// stdin a pipe for its input, stdout and stderr /dev/null, and fd 3 a pipe
// for its reports; it dies with its parent. At its start it limits itself
// (limit_process: RLIMIT_DATA, no core files, a seccomp filter that denies
// what an exploited jq would reach for: running programs, tracing other
// processes, mounts, modules, bpf, namespaces) and, while it runs jq, a
// Watchdog ends it when one step (an event, or a start-up phase: compiling
// with `from` and `init`) takes more CPU time than its budget.
//
// In every process, jq itself is narrowed (projection/jq.cc): no module
// search path, no debug output. `import` and `include` are refused before
// jq sees the program (refuse_modules), since jq reads any path they name.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "es/projection.h"
#include "es/result.h"

#include <sys/types.h>

namespace es {

// ASan reserves its shadow memory as private mappings, which RLIMIT_DATA
// counts: in a sanitizer build workers get no memory limit by default.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr std::uint64_t kDefaultWorkerMemory = 0;
#else
inline constexpr std::uint64_t kDefaultWorkerMemory = 1ull << 30;
#endif

// A sanitizer build (-O0, every allocation through ASan's allocator) runs
// jq several times slower: its Watchdog allows that many times each budget
// (reports still name the budget as configured), so that limits tuned for a
// release build mean the same work in both.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr int kCpuBudgetScale = 5;
#else
inline constexpr int kCpuBudgetScale = 1;
#endif

struct SandboxLimits {
  std::chrono::milliseconds event_cpu{1000};          // CPU time one event may take
  std::chrono::milliseconds start_cpu{500};           // compiling, with `from` and `init`
  std::uint64_t memory_bytes = kDefaultWorkerMemory;  // RLIMIT_DATA; 0: none
};

// Exit statuses a worker ends with on its own (esd maps them to reasons).
inline constexpr int kWorkerFailed = 10;    // a reported failure (the report says why)
inline constexpr int kWorkerCpuLimit = 11;  // the Watchdog ended it
inline constexpr int kWorkerBadArgs = 12;   // started wrongly

// Refuses `import` and `include` directives in a jq program, naming the line.
Status refuse_modules(std::string_view source, const std::string& what);

// Applies the memory limit, no core files, no new privileges and a system
// call filter (seccomp: execve, ptrace, mount, module loading, bpf,
// namespaces and the like fail with EPERM; what jq, ZeroMQ and LMDB use
// stays) to this process, for good.
Status limit_process(const SandboxLimits& limits);

// Ends this process (exit kWorkerCpuLimit, after writing a report line to
// `report_fd`) when the thread that made it spends more than the budget of
// CPU time in one step. A step starts with begin(); checking costs the
// watched thread nothing but two atomic stores per step.
class Watchdog {
 public:
  explicit Watchdog(int report_fd);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // A new step: `what` (a static string: "from", "the event at position")
  // with `position` (0: none), allowed `budget` of CPU time.
  void begin(const char* what, std::uint64_t position, std::chrono::milliseconds budget);
  // Between steps (waiting for events): no budget.
  void idle() { step_.fetch_add(1, std::memory_order_release), budget_ms_.store(0); }
  // The steps every sandbox has: folding the event at `position`, and
  // compiling a program (with its from and init, which run then).
  void event(std::uint64_t position, std::chrono::milliseconds budget) {
    begin("the event at position", position, budget);
  }
  void compiling(std::chrono::milliseconds budget) {
    begin("compiling (with from and init)", 0, budget);
  }

 private:
  void watch();
  int report_fd_;
  clockid_t clock_{};
  std::atomic<std::uint64_t> step_{0};
  std::atomic<std::int64_t> budget_ms_{0};
  std::atomic<const char*> what_{""};
  std::atomic<std::uint64_t> position_{0};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// A spawned worker.
struct Worker {
  pid_t pid = -1;
  int input = -1;    // its stdin (write end)
  int reports = -1;  // its fd 3 (read end)
};

// Spawns `argv` (argv[0] the program's path) as a worker.
Result<Worker> spawn_worker(const std::vector<std::string>& argv);

// Compiles a projection as a step of `watchdog` within limits.start_cpu.
Result<std::unique_ptr<Projection>> compile_watched(const std::string& source,
                                                    const std::string& name, Watchdog& watchdog,
                                                    const SandboxLimits& limits);

// A failure report line, "F position message", as (position, message).
std::pair<std::uint64_t, std::string> parse_failure_report(std::string_view line);

// Waits for the child `pid` to end (through EINTR); returns its wait status.
int wait_exit(pid_t pid);

// Why a worker ended: "exited with status N", "was killed by SIGSEGV
// (segmentation fault)", ...
std::string describe_exit(int wait_status);

// The path of the running program (for spawning itself).
std::string self_exe();

// Reads a worker's report lines from `fd` until it closes (then closes it);
// `on_line` gets each one, without its newline (a line over 1 MiB is
// dropped), and `tick` runs every 100 ms meanwhile.
void read_reports(int fd, const std::function<void(const std::string&)>& on_line,
                  const std::function<void()>& tick);

// A worker's end as projection `name`'s failure: its own report
// (`reported`), or what its wait status says, with the limit to raise.
std::string why_worker_ended(const std::string& name, int status, const std::string& reported);

}  // namespace es

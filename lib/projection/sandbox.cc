#include "projection/sandbox.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace es {

namespace {

bool ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::int64_t cpu_ms(clockid_t clock) {
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0) return 0;
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

// A jq lexer's view, as far as it matters here: comments, strings (with
// their escapes and \( ... ) interpolations, which are code again) and
// identifiers, so that `import` and `include` are found as directives and
// not inside a string, a comment, or a field name (.import).
Status refuse_modules(std::string_view src, const std::string& what) {
  enum class Mode { kCode, kString };
  std::vector<std::pair<Mode, int>> stack{{Mode::kCode, 0}};  // mode, parens open (code)
  int line = 1;
  for (std::size_t i = 0; i < src.size(); ++i) {
    const char c = src[i];
    if (c == '\n') ++line;
    auto& [mode, parens] = stack.back();
    if (mode == Mode::kString) {
      if (c == '\\' && i + 1 < src.size()) {
        if (src[i + 1] == '(') {
          stack.emplace_back(Mode::kCode, 1);
        } else if (src[i + 1] == '\n') {
          ++line;
        }
        ++i;
      } else if (c == '"') {
        stack.pop_back();
      }
      continue;
    }
    if (c == '#') {
      while (i + 1 < src.size() && src[i + 1] != '\n') ++i;
    } else if (c == '"') {
      stack.emplace_back(Mode::kString, 0);
    } else if (c == '(') {
      ++parens;
    } else if (c == ')') {
      if (--parens == 0 && stack.size() > 1) stack.pop_back();  // an interpolation ends
    } else if (ident_char(c) && (i == 0 || !ident_char(src[i - 1]))) {
      std::size_t end = i;
      while (end < src.size() && ident_char(src[end])) ++end;
      const std::string_view word = src.substr(i, end - i);
      const char before = i == 0 ? ' ' : src[i - 1];
      // A directive names its path next (import "p" as x;), where an object
      // key (import: ...) or a field (.import) does not.
      std::size_t next = end;
      while (next < src.size() &&
             (src[next] == ' ' || src[next] == '\t' || src[next] == '\n' || src[next] == '\r'))
        ++next;
      const bool names_a_path = next < src.size() && src[next] == '"';
      if ((word == "import" || word == "include") && before != '.' && before != '$' &&
          names_a_path) {
        return Status::invalid(what + ": line " + std::to_string(line) + ": " + std::string(word) +
                               " is not available to projections (they read no files); put the "
                               "definitions in the projection's own file");
      }
      i = end - 1;
    }
  }
  return {};
}

namespace {

// A deny list rather than an allow list: ZeroMQ, LMDB, the allocator and
// libjq need a long and version-dependent list of calls, none of these.
Status deny_syscalls() {
  scmp_filter_ctx filter = ::seccomp_init(SCMP_ACT_ALLOW);
  if (filter == nullptr) return Status::io_error("seccomp_init failed");
  static const char* const kDenied[] = {
    "execve",
    "execveat",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "unshare",
    "setns",
    "personality",
    "userfaultfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "acct",
    "swapon",
    "swapoff",
    "reboot",
    "syslog",
    "iopl",
    "ioperm",
    "quotactl",
    "fanotify_init",
#if !defined(__SANITIZE_ADDRESS__)
    "ptrace",  // (LeakSanitizer stops the threads with it at exit)
#endif
  };
  int rc = 0;
  for (const char* name : kDenied) {
    const int nr = ::seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rc = ::seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), nr, 0);
    if (rc != 0) break;
  }
  if (rc == 0) rc = ::seccomp_load(filter);
  ::seccomp_release(filter);
  if (rc != 0) return Status::io_error(std::string("seccomp: ") + std::strerror(-rc));
  return {};
}

}  // namespace

Status limit_process(const SandboxLimits& limits) {
  rlimit none{0, 0};
  if (::setrlimit(RLIMIT_CORE, &none) != 0)
    return Status::io_error(std::string("setrlimit(RLIMIT_CORE): ") + std::strerror(errno));
  if (limits.memory_bytes > 0) {
    rlimit data{limits.memory_bytes, limits.memory_bytes};
    if (::setrlimit(RLIMIT_DATA, &data) != 0)
      return Status::io_error(std::string("setrlimit(RLIMIT_DATA): ") + std::strerror(errno));
  }
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  return deny_syscalls();
}

Watchdog::Watchdog(int report_fd) : report_fd_(report_fd) {
  if (::pthread_getcpuclockid(::pthread_self(), &clock_) != 0) clock_ = CLOCK_PROCESS_CPUTIME_ID;
  thread_ = std::thread([this] { watch(); });
}

Watchdog::~Watchdog() {
  done_ = true;
  if (thread_.joinable()) thread_.join();
}

void Watchdog::begin(const char* what, std::uint64_t position, std::chrono::milliseconds budget) {
  what_.store(what, std::memory_order_relaxed);
  position_.store(position, std::memory_order_relaxed);
  budget_ms_.store(budget.count(), std::memory_order_relaxed);
  step_.fetch_add(1, std::memory_order_release);
}

// A step's CPU time is counted from when this thread first sees it (at most
// one tick late), so that a step costs the watched thread no system call.
void Watchdog::watch() {
  constexpr auto kTick = std::chrono::milliseconds(20);
  std::uint64_t seen = ~0ull;
  std::int64_t started = 0;
  while (!done_.load()) {
    std::this_thread::sleep_for(kTick);
    const std::uint64_t step = step_.load(std::memory_order_acquire);
    const std::int64_t now = cpu_ms(clock_);
    if (step != seen) {
      seen = step;
      started = now;
      continue;
    }
    const std::int64_t budget = budget_ms_.load(std::memory_order_relaxed);
    if (budget <= 0 || now - started <= budget * kCpuBudgetScale) continue;
    const std::uint64_t at = position_.load();
    const std::string line = "F " + std::to_string(at) + " " + what_.load() +
                             (at != 0 ? " " + std::to_string(at) : std::string()) +
                             " took more than " + std::to_string(budget) + " ms of CPU time\n";
    [[maybe_unused]] auto n = ::write(report_fd_, line.data(), line.size());
    ::_exit(kWorkerCpuLimit);
  }
}

Result<Worker> spawn_worker(const std::vector<std::string>& argv) {
  int in[2], rep[2];
  if (::pipe2(in, O_CLOEXEC) != 0)
    return Status::io_error(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(rep, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return Status::io_error(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, rep[1], 3);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 4);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // No environment: $ENV and env show nothing. The sanitizers' options
  // pass, so that a sanitizer build's workers report as esd does.
  std::vector<std::string> env_strings;
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* v = std::getenv(name)) env_strings.push_back(std::string(name) + "=" + v);
  }
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  pid_t pid = -1;
  const int rc =
      ::posix_spawn(&pid, argv.front().c_str(), &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(rep[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(rep[0]);
    return Status::io_error("cannot start a projection worker (" + argv.front() +
                            "): " + std::strerror(rc));
  }
  return Worker{pid, in[1], rep[0]};
}

Result<std::unique_ptr<Projection>> compile_watched(const std::string& source,
                                                    const std::string& name, Watchdog& watchdog,
                                                    const SandboxLimits& limits) {
  watchdog.compiling(limits.start_cpu);
  auto compiled = Projection::compile(source, name);
  watchdog.idle();
  return compiled;
}

std::pair<std::uint64_t, std::string> parse_failure_report(std::string_view line) {
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.size() < 2) return {0, std::string(line)};
  const auto space = line.find(' ', 2);
  if (space == std::string_view::npos) return {0, std::string(line.substr(2))};
  return {std::strtoull(std::string(line.substr(2, space - 2)).c_str(), nullptr, 10),
          std::string(line.substr(space + 1))};
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = ::sigabbrev_np(sig);
    return std::string("was killed by ") +
           (abbrev ? std::string("SIG") + abbrev : std::to_string(sig)) + " (" + ::strsignal(sig) +
           ")";
  }
  return "ended (status " + std::to_string(status) + ")";
}

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

void read_reports(int fd, const std::function<void(const std::string&)>& on_line,
                  const std::function<void()>& tick) {
  std::string buffer;
  char chunk[4096];
  for (;;) {
    tick();
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) break;
    buffer.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      on_line(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
    if (buffer.size() > (1u << 20)) buffer.clear();  // no line is that long
  }
  ::close(fd);
}

std::string why_worker_ended(const std::string& name, int status, const std::string& reported) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == kWorkerCpuLimit)
    return "projection " + name + ": " + reported +
           " (limits: esd --projection-event-cpu, --projection-start-cpu)";
  if (!reported.empty()) return reported;
  std::string why = "projection " + name + ": its worker " + describe_exit(status);
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT)
    why += ": jq aborted (an assertion in libjq, or out of memory: esd --projection-memory)";
  else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
    why += ": jq crashed (a bug in libjq, or out of memory: esd --projection-memory)";
  return why;
}

}  // namespace es

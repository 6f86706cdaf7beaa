#include "replay.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "es/json.h"

#include "progress.h"
#include "projection/replay.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace escmd {

bool PartitionPrinter::add(const std::string& key, const std::string& state) {
  if (ctx_.text()) return table_.add({key, state}, ctx_);
  return ctx_.emit(es::view::partition_line(key, state));
}

void PartitionPrinter::finish() {
  if (ctx_.text()) table_.finish(ctx_);
}

ExitCode replay_and_print(es::Projection& p, es::Client& client, es::Position from,
                          std::optional<es::Position> to, const std::optional<std::string>& key,
                          Context& ctx, es::Watchdog* watchdog,
                          std::chrono::milliseconds event_cpu) {
  Progress progress("replay " + p.name() + ":", "positions");
  if (to) {
    progress.set_total(*to);
  } else if (auto hello = client.hello(); hello.ok()) {
    progress.set_total(hello->head);
  }
  es::ReplayOptions options;
  options.from = from;
  options.to = to;
  options.watchdog = watchdog;
  options.event_cpu = event_cpu;
  options.progress = [&](es::Position at) { progress.update(at); };
  es::Status s = es::replay(p, client, options);
  progress.clear();
  if (!s.ok()) return ctx.fail(s);
  if (key) {
    auto state = p.state(*key);
    if (!state) {
      return ctx.fail(
          es::Status::not_found("projection " + p.name() + " has no partition " + *key));
    }
    PartitionPrinter out(ctx);
    out.add(*key, *state);
    out.finish();
    return ExitCode::kSuccess;
  }
  PartitionPrinter out(ctx);
  bool open = true;
  p.for_each([&](const std::string& k, const std::string& state) {
    if (open) open = out.add(k, state);
  });
  if (open) out.finish();
  return ExitCode::kSuccess;
}

ExitCode in_sandbox(Context& ctx, const std::string& name,
                    const std::function<ExitCode(es::Watchdog&, const es::SandboxLimits&)>& body) {
  int reports[2];
  if (::pipe2(reports, O_CLOEXEC) != 0)
    return ctx.fail(es::Status::io_error(std::string("pipe: ") + std::strerror(errno)));
  std::fflush(nullptr);
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) return ctx.fail(es::Status::io_error(std::string("fork: ") + std::strerror(errno)));
  if (pid == 0) {
    ::close(reports[0]);
    // No environment but the sanitizers' options, as a node's workers have
    // (clearenv() would leave environ null, which jq's $ENV walks unchecked).
    static char* kept[4] = {nullptr, nullptr, nullptr, nullptr};
    int n = 0;
    for (char** e = environ; e != nullptr && *e != nullptr && n < 3; ++e) {
      const std::string_view entry(*e);
      for (std::string_view option : {"ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="}) {
        if (entry.substr(0, option.size()) == option) kept[n++] = *e;
      }
    }
    environ = kept;
    const es::SandboxLimits limits;
    int code = static_cast<int>(ExitCode::kFailure);
    if (es::Status s = es::limit_process(limits); !s.ok()) {
      ctx.fail(s);
    } else {
      es::Watchdog watchdog(reports[1]);
      code = static_cast<int>(body(watchdog, limits));
    }
    std::cout.flush();
    std::fflush(nullptr);
    ::_exit(code);  // not exit(): the parent's ZeroMQ contexts are not this process's
  }
  ::close(reports[1]);
  std::string reported;
  char buf[4096];
  for (ssize_t n; (n = ::read(reports[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    reported.append(buf, static_cast<std::size_t>(n));
  }
  ::close(reports[0]);
  const int status = es::wait_exit(pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) != es::kWorkerCpuLimit)
    return static_cast<ExitCode>(WEXITSTATUS(status));
  std::string why = "projection " + name + ": ";
  if (WIFEXITED(status)) {
    const std::string message = es::parse_failure_report(reported).second;  // the Watchdog's
    why += message.empty() ? "a CPU limit was reached" : message;
  } else {
    why += "the replay " + es::describe_exit(status) +
           " (jq crashed: a bug in libjq, or out of memory)";
  }
  return ctx.fail(es::Status::invalid(why));
}

}  // namespace escmd

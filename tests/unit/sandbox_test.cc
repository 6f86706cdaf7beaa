// Unit tests of projection/sandbox.h: the lexical refusal of import and
// include, the system call filter and the watchdog, each in a child process
// (they are for good).
#include "projection/sandbox.h"

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

using Catch::Matchers::Contains;
using es::refuse_modules;

namespace {

// Runs `body` in a forked child; returns its wait status.
template <class Body>
int in_child(Body body) {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("import and include directives are refused, naming the line", "[sandbox]") {
  auto refused = [](const std::string& src) { return !refuse_modules(src, "projection p").ok(); };
  CHECK(refused("import \"/etc/passwd\" as $s;\ndef when: .state;"));
  CHECK(refused("include \"lib\";"));
  CHECK(refused("def f: 1;\n  import\n\"x\" as y;"));
  CHECK_THAT(refuse_modules("# one\n\nimport \"a\" as $a;", "projection p").message(),
             Contains("projection p: line 3: import is not available"));
  // Not directives: strings, comments, keys, fields, variables, longer words.
  CHECK_FALSE(refused("def when: \"import \\\"x\\\" as y\";"));
  CHECK_FALSE(refused("# import \"x\" as y;\ndef when: .state;"));
  CHECK_FALSE(refused("def when: {import: 1, include: 2} | .import + .include;"));
  CHECK_FALSE(refused("def when: \"\\(.import)\" | $include;"));
  CHECK_FALSE(refused("def importer: 1; def included: 2; def when: importer;"));
  // Code inside a string's interpolation is code again.
  CHECK(refused("def when: \"a \\( 1 | include \"m\"; 1 ) b\";"));
}

TEST_CASE("a limited process cannot run programs or trace others; it keeps working", "[sandbox]") {
  const int status = in_child([] {
    if (!es::limit_process(es::SandboxLimits{}).ok()) return 10;
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    char* envp[] = {nullptr};
    ::execve("/bin/true", argv, envp);
    if (errno != EPERM) return 11;
    if (::unshare(0) == 0 || errno != EPERM) return 12;
    // What a worker does still works: files, pipes, threads, memory.
    int fds[2];
    if (::pipe(fds) != 0) return 13;
    std::string big(16u << 20, 'x');
    return big.size() == (16u << 20) ? 0 : 14;
  });
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("the watchdog ends a step that takes more than its CPU budget", "[sandbox]") {
  int reports[2];
  REQUIRE(::pipe(reports) == 0);
  const int status = in_child([&] {
    ::close(reports[0]);
    es::Watchdog watchdog(reports[1]);
    // A short step passes, then idle time costs nothing.
    watchdog.event(1, std::chrono::milliseconds(200));
    volatile unsigned long spin = 0;
    for (int i = 0; i < 1000; ++i) spin = spin + 1;
    watchdog.idle();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    watchdog.event(7, std::chrono::milliseconds(200));
    while (spin != 0) spin = spin + 1;  // never ends on its own
    return 0;
  });
  ::close(reports[1]);
  char buf[256] = {};
  const ssize_t n = ::read(reports[0], buf, sizeof buf - 1);
  ::close(reports[0]);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == es::kWorkerCpuLimit);
  REQUIRE(n > 0);
  CHECK(std::string(buf) == "F 7 the event at position 7 took more than 200 ms of CPU time\n");
}

TEST_CASE("a failure report line parses into its position and message", "[sandbox]") {
  using R = std::pair<std::uint64_t, std::string>;
  CHECK(es::parse_failure_report("F 7 the event at position 7 took more than 200 ms\n") ==
        R{7, "the event at position 7 took more than 200 ms"});
  CHECK(es::parse_failure_report("F 0 projection p: line 1: syntax error") ==
        R{0, "projection p: line 1: syntax error"});
  CHECK(es::parse_failure_report("F 12") == R{0, "12"});
  CHECK(es::parse_failure_report("") == R{0, ""});
}

// syscall_filter: runs a program under a seccomp allow list, the way a
// systemd unit's SystemCallFilter= does (tests/e2e/unit_test.sh).
//
//   syscall_filter NAMES_FILE PROGRAM [ARGS...]
//
// NAMES_FILE holds the allowed system calls' names, one per line (names this
// architecture lacks are skipped); any other call kills the process with
// SIGSYS, systemd's default action. Sets no_new_privs (NoNewPrivileges=),
// which an unprivileged process needs to install a filter, then execs.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include <seccomp.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: syscall_filter NAMES_FILE PROGRAM [ARGS...]\n");
    return 2;
  }
  std::ifstream names(argv[1]);
  if (!names) {
    std::fprintf(stderr, "syscall_filter: cannot read %s\n", argv[1]);
    return 2;
  }
  scmp_filter_ctx filter = ::seccomp_init(SCMP_ACT_KILL_PROCESS);
  std::string name;
  while (names >> name) {
    const int nr = ::seccomp_syscall_resolve_name(name.c_str());
    if (nr != __NR_SCMP_ERROR) ::seccomp_rule_add(filter, SCMP_ACT_ALLOW, nr, 0);
  }
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (const int rc = ::seccomp_load(filter); rc != 0) {
    std::fprintf(stderr, "syscall_filter: seccomp_load: %s\n", std::strerror(-rc));
    return 1;
  }
  ::seccomp_release(filter);
  ::execv(argv[2], argv + 2);
  std::fprintf(stderr, "syscall_filter: %s: %s\n", argv[2], std::strerror(errno));
  return 1;
}

// notify_listener: stands in for systemd's end of the notify protocol
// (sd_notify(3)) in tests/e2e/notify_test.sh.
//
//   notify_listener SOCKET [PROBE]  binds a unix datagram socket at SOCKET
//                                   and prints each line of each datagram as
//                                   "MS LINE", MS on CLOCK_MONOTONIC in
//                                   milliseconds. On READY=1 it first connects
//                                   to the unix stream socket PROBE (esd's
//                                   ipc:// endpoint) and prints "MS PROBE ok"
//                                   or "MS PROBE refused": whether the sender
//                                   listened when it said ready. Ends on
//                                   SIGTERM or after 120 s.
//   notify_listener --now           prints the time now, on the same clock.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

namespace {

volatile std::sig_atomic_t g_stop = 0;

long long now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

bool fill(sockaddr_un& addr, const std::string& path) {
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

bool probe(const std::string& path) {
  sockaddr_un addr{};
  if (!fill(addr, path)) return false;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--now") {
    std::printf("%lld\n", now_ms());
    return 0;
  }
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: notify_listener SOCKET [PROBE] | --now\n");
    return 2;
  }
  const std::string path = argv[1];
  const std::string probe_path = argc == 3 ? argv[2] : "";
  sockaddr_un addr{};
  if (!fill(addr, path)) {
    std::fprintf(stderr, "notify_listener: socket path too long\n");
    return 2;
  }
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ::unlink(path.c_str());
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "notify_listener: cannot bind %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  const long long ends = now_ms() + 120'000;
  char buf[4096];
  while (g_stop == 0 && now_ms() < ends) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n <= 0) continue;
    const long long at = now_ms();
    const std::string message(buf, static_cast<std::size_t>(n));
    if (!probe_path.empty() && (message == "READY=1" || message.rfind("READY=1\n", 0) == 0 ||
                                message.find("\nREADY=1") != std::string::npos))
      std::printf("%lld PROBE %s\n", at, probe(probe_path) ? "ok" : "refused");
    std::size_t from = 0;
    while (from < message.size()) {
      std::size_t end = message.find('\n', from);
      if (end == std::string::npos) end = message.size();
      std::printf("%lld %s\n", at, message.substr(from, end - from).c_str());
      from = end + 1;
    }
    std::fflush(stdout);
  }
  ::close(fd);
  ::unlink(path.c_str());
  return 0;
}

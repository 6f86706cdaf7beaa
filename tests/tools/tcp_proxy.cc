// tests/tools/tcp_proxy.cc: a loopback TCP proxy for the cluster tests, to
// cut a replica off from its primary. Usage:
//   tcp_proxy LISTEN_PORT:TARGET_PORT [LISTEN_PORT:TARGET_PORT ...]
// listens on 127.0.0.1:LISTEN_PORT and forwards each connection to
// 127.0.0.1:TARGET_PORT, bytes as they come. SIGSTOP freezes every link
// (a silent partition: nothing is closed); killing it closes them all (a
// hard cut). Prints "ready" once it listens.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

struct Route {
  int listener = -1;
  int target_port = 0;
};

struct Link {
  int a = -1, b = -1;  // client side, target side
  std::string a_to_b, b_to_a;
  bool closed = false;
};

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

int listen_on(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = loopback(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    std::fprintf(stderr, "tcp_proxy: cannot listen on %d: %s\n", port, std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  ::fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

// Moves what `from` has into `buffer`, and `buffer` into `to`; false when
// the link is done.
bool pump(int from, int to, std::string& buffer, short revents_from) {
  if (revents_from & (POLLIN | POLLHUP | POLLERR)) {
    char chunk[65536];
    ssize_t n = ::read(from, chunk, sizeof chunk);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return false;
    if (n > 0) buffer.append(chunk, static_cast<std::size_t>(n));
  }
  while (!buffer.empty()) {
    ssize_t n = ::write(to, buffer.data(), buffer.size());
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    buffer.erase(0, static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<Route> routes;
  for (int i = 1; i < argc; ++i) {
    int listen_port = 0, target_port = 0;
    if (std::sscanf(argv[i], "%d:%d", &listen_port, &target_port) != 2) {
      std::fprintf(stderr, "usage: tcp_proxy LISTEN_PORT:TARGET_PORT ...\n");
      return 2;
    }
    routes.push_back(Route{listen_on(listen_port), target_port});
  }
  if (routes.empty()) {
    std::fprintf(stderr, "usage: tcp_proxy LISTEN_PORT:TARGET_PORT ...\n");
    return 2;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<Link> links;
  for (;;) {
    std::vector<pollfd> fds;
    for (const auto& r : routes) fds.push_back({r.listener, POLLIN, 0});
    for (const auto& l : links) {
      fds.push_back({l.a, static_cast<short>(POLLIN | (l.b_to_a.empty() ? 0 : POLLOUT)), 0});
      fds.push_back({l.b, static_cast<short>(POLLIN | (l.a_to_b.empty() ? 0 : POLLOUT)), 0});
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return 1;
    for (std::size_t i = 0; i < routes.size(); ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      int a = ::accept4(routes[i].listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (a < 0) continue;
      int b = connect_to(routes[i].target_port);
      if (b < 0) {
        ::close(a);
        continue;
      }
      links.push_back(Link{a, b, {}, {}, false});
    }
    for (std::size_t j = 0; j < links.size() && routes.size() + 2 * j + 1 < fds.size(); ++j) {
      Link& l = links[j];
      const short ra = fds[routes.size() + 2 * j].revents;
      const short rb = fds[routes.size() + 2 * j + 1].revents;
      if (!pump(l.a, l.b, l.a_to_b, ra) || !pump(l.b, l.a, l.b_to_a, rb)) l.closed = true;
    }
    for (auto it = links.begin(); it != links.end();) {
      if (it->closed) {
        ::close(it->a);
        ::close(it->b);
        it = links.erase(it);
      } else {
        ++it;
      }
    }
  }
}

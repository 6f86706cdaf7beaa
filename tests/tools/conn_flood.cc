// tests/tools/conn_flood.cc ENDPOINT SOURCE COUNT HOLD_S: opens COUNT
// ZeroMQ DEALER connections to ENDPOINT (tcp://HOST:PORT) from the address
// SOURCE, holds them HOLD_S seconds, and prints, after the handshakes have
// had 3 s, "accepted N refused M": how many completed their handshake and
// how many the node refused (ZAP). For tests of esd --max-clients.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <zmq.h>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: conn_flood ENDPOINT SOURCE COUNT HOLD_S\n");
    return 2;
  }
  const std::string endpoint = argv[1];
  const std::string source = argv[2];
  const int count = std::atoi(argv[3]);
  const int hold = std::atoi(argv[4]);
  void* ctx = zmq_ctx_new();
  zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 4 * count + 16);
  std::vector<void*> sockets, monitors;
  const std::string target = "tcp://" + source + ":0;" + endpoint.substr(6);
  for (int i = 0; i < count; ++i) {
    void* s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    const std::string mon = "inproc://mon-" + std::to_string(i);
    zmq_socket_monitor(s, mon.c_str(),
                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
    void* m = zmq_socket(ctx, ZMQ_PAIR);
    zmq_connect(m, mon.c_str());
    if (zmq_connect(s, target.c_str()) != 0) {
      std::fprintf(stderr, "connect %s: %s\n", target.c_str(), zmq_strerror(zmq_errno()));
      return 1;
    }
    sockets.push_back(s);
    monitors.push_back(m);
  }
  std::vector<int> state(count, 0);  // 1 accepted, -1 refused (first event wins)
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < count; ++i) {
      zmq_msg_t msg;
      zmq_msg_init(&msg);
      while (zmq_msg_recv(&msg, monitors[i], ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_size(&msg) >= 6 && state[i] == 0) {
          const unsigned short id = *static_cast<unsigned short*>(zmq_msg_data(&msg));
          state[i] = id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ? 1 : -1;
        }
        int more = 0;
        size_t len = sizeof more;
        zmq_getsockopt(monitors[i], ZMQ_RCVMORE, &more, &len);
        if (more) zmq_msg_recv(&msg, monitors[i], 0);
      }
      zmq_msg_close(&msg);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int accepted = 0, refused = 0;
  for (int s : state) accepted += s == 1, refused += s == -1;
  std::printf("accepted %d refused %d\n", accepted, refused);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(hold));
  for (void* m : monitors) zmq_close(m);
  for (void* s : sockets) zmq_close(s);
  zmq_ctx_term(ctx);
  return 0;
}

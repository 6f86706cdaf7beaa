// daemon/admission.h
//
// Who may connect: a ZAP handler (ZeroMQ's authentication protocol, RFC 27)
// for the request and publish sockets.
// - With keys (keyring.h), a peer's CURVE public key must be in the
//   allow-list; one that is not is refused (status 400, which the client
//   sees at once) and logged with its address. An admitted connection
//   carries its public key as ZeroMQ's User-Id, by which the loop finds its
//   role for each request.
// - It refuses a connection while the node holds max_clients connections
//   already (requests and subscriptions together), keeping loopback_reserve
//   more for peers at 127.0.0.1 or ::1, so that es status and es stop from
//   the host still get in (status 500: RFC 27 has 300 for "try later",
//   but libzmq 4.3 then tells the client nothing and lets the handshake
//   time out; 500 reaches it at once); it logs when
//   it starts refusing and how many it refused.
//
// Thread safety: the handler runs on a thread of its own; saw() and
// set_max_clients() are called by the loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "keyring.h"
#include "log_budget.h"
#include "metrics.h"

namespace esd {

class Admission {
 public:
  struct Options {
    unsigned max_clients = 1000;
    unsigned loopback_reserve = 16;
  };
  // The ZAP domain that guard() gives a socket.
  static constexpr const char* kDomain = "esd";

  // `keyring` may be off (no keys: every peer is known by its address only).
  // `metrics` (may be null) counts the refusals.
  Admission(zmq::context_t& ctx, Options options, std::shared_ptr<const Keyring> keyring,
            NodeMetrics* metrics);
  ~Admission();
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Makes `socket` ask this handler about each peer; before it binds.
  static void guard(zmq::socket_t& socket);
  // The monitor events saw() needs.
  static constexpr int kEvents = ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
  // A monitor event of a guarded socket. A connection counts from when
  // this handler admits it until it is gone; one that fails its handshake
  // (refused here, or never greeting) is followed by its disconnection,
  // which the failure cancels.
  // With keys, a handshake that fails before the handler is asked (a peer
  // without keys, or one that did not use this node's public key) is
  // logged here: ZeroMQ's monitor gives the endpoint, not the peer.
  void saw(int event, std::uint32_t value, const std::string& endpoint);
  // A reload's new cap: connections held above it stay; new ones wait for room.
  void set_max_clients(unsigned max_clients) { max_clients_.store(max_clients); }

  // The most one connection may cost (esd(8), Memory per connection): a
  // frame being received, two waiting to be read, four replies waiting and
  // one being sent.
  static constexpr std::uint64_t kConnectionBytes = 184ull << 20;
  // The default cap: what a file limit of `nofile` leaves after the store,
  // the journal, the workers and ZeroMQ's own descriptors, and what half of
  // `memory` bytes holds at kConnectionBytes each (at least 64), at most 10,000.
  static unsigned default_max_clients(std::uint64_t nofile, std::uint64_t memory);
  // The machine's memory (MemTotal), in bytes; 0 when unknown.
  static std::uint64_t machine_memory();
  // Raises this process's soft file limit to its hard limit; returns it.
  static std::uint64_t raise_file_limit();

 private:
  struct Verdict {
    const char* status;  // ZAP's: "200" admitted, "500" full (try later), "400" not allowed
    std::string text;
    std::string user_id;  // the peer's public key (Z85), with keys
  };
  void run();
  Verdict judge(const std::vector<zmq::message_t>& request);
  bool admit(const std::string& address);

  zmq::socket_t handler_;
  Options options_;
  std::atomic<unsigned> max_clients_;  // options_.max_clients, until a reload
  std::atomic<std::int64_t> held_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<bool> stop_{false};
  std::shared_ptr<const Keyring> keyring_;
  NodeMetrics* metrics_;
  bool refusing_ = false;  // the handler thread's: to log the change once
  LogBudget refused_keys_log_{20, "connections refused for their keys"};  // the handler thread's
  LogBudget failed_handshakes_log_{20, "failed handshakes"};              // the loop's
  std::thread thread_;
};

}  // namespace esd

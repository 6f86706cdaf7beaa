#include "admission.h"

#include <algorithm>
#include <fstream>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

namespace esd {

namespace {

bool is_host_loopback(const std::string& address) {
  return address == "127.0.0.1" || address == "::1" || address == "::ffff:127.0.0.1";
}

}  // namespace

Admission::Admission(zmq::context_t& ctx, Options options, std::shared_ptr<const Keyring> keyring,
                     NodeMetrics* metrics)
    : handler_(ctx, zmq::socket_type::rep),
      options_(options),
      max_clients_(options.max_clients),
      keyring_(std::move(keyring)),
      metrics_(metrics) {
  handler_.set(zmq::sockopt::linger, 0);
  handler_.bind("inproc://zeromq.zap.01");  // where libzmq asks
  thread_ = std::thread([this] { run(); });
}

Admission::~Admission() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Admission::guard(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::zap_domain, kDomain);
  // A peer that connects and never completes its greeting holds a
  // descriptor only this long.
  socket.set(zmq::sockopt::handshake_ivl, 2000);
}

void Admission::saw(int event, std::uint32_t value, const std::string& endpoint) {
  const bool keys = keyring_ != nullptr && keyring_->enabled();
  const bool failed = keys && (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                               event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
  if (failed && metrics_ != nullptr) metrics_->failed_handshakes.add();
  if (failed && failed_handshakes_log_.take()) {
    spdlog::warn(
        "refused a connection on {}: {}", endpoint,
        value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
            ? "it came without keys (this node takes CurveZMQ clients only)"
            : fmt::format("its handshake failed ({}; did it use this node's public "
                          "key?)",
                          value < 1000 ? zmq_strerror(static_cast<int>(value))
                                       : fmt::format("ZeroMQ protocol error {:#x}", value)));
  }
  if (event == ZMQ_EVENT_DISCONNECTED) held_.fetch_sub(1);
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
      event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
    held_.fetch_add(1);
}

unsigned Admission::default_max_clients(std::uint64_t nofile, std::uint64_t memory) {
  constexpr std::uint64_t kKept = 256;  // LMDB, the journal, workers' pipes, ZeroMQ's own
  const std::uint64_t by_files = nofile > kKept + 64 ? nofile - kKept : 64;
  const std::uint64_t by_memory =
      memory == 0 ? by_files : std::max<std::uint64_t>(64, memory / 2 / kConnectionBytes);
  return static_cast<unsigned>(std::min<std::uint64_t>({by_files, by_memory, 10'000}));
}

std::uint64_t Admission::machine_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kb = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") return kb * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

std::uint64_t Admission::raise_file_limit() {
  rlimit l{};
  if (::getrlimit(RLIMIT_NOFILE, &l) != 0) return 1024;
  if (l.rlim_cur < l.rlim_max) {
    l.rlim_cur = l.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &l);
    ::getrlimit(RLIMIT_NOFILE, &l);
  }
  return l.rlim_cur;
}

bool Admission::admit(const std::string& address) {
  const std::int64_t held = held_.load();
  const unsigned max_clients = max_clients_.load();
  const std::int64_t cap =
      max_clients + (is_host_loopback(address) ? options_.loopback_reserve : 0);
  if (held < cap) {
    held_.fetch_add(1);
    if (refusing_ && held < static_cast<std::int64_t>(max_clients)) {
      spdlog::info("taking connections again ({} held); {} refused in all", held, refused_.load());
      refusing_ = false;
    }
    return true;
  }
  ++refused_;
  if (!refusing_) {
    spdlog::warn(
        "refusing connections: {} held, the limit is {} (esd --max-clients), and {} "
        "more for 127.0.0.1 and ::1; refused {}",
        held, max_clients, options_.loopback_reserve, address);
    refusing_ = true;
  }
  return false;
}

// RFC 27: version, request id, domain, address, identity, mechanism,
// credentials... in.
Admission::Verdict Admission::judge(const std::vector<zmq::message_t>& request) {
  const std::string address = request[3].to_string();
  std::string user_id;
  if (keyring_ != nullptr && keyring_->enabled()) {
    if (request[5].to_string() != "CURVE" || request.size() < 7 || request[6].size() != 32)
      return {"400", "keys required", {}};
    char z85[es::kCurveKeyChars + 1];
    zmq_z85_encode(z85, static_cast<const std::uint8_t*>(request[6].data()), 32);
    if (!keyring_->find(z85)) {
      if (metrics_ != nullptr) metrics_->refused_keys.add();
      if (refused_keys_log_.take())
        spdlog::warn(
            "refused a connection from {}: its key {} is not in the allow-list (esd "
            "--allow)",
            address.empty() ? "a local client" : address, z85);
      return {"400", "key not allowed", {}};
    }
    user_id = z85;
  }
  if (!admit(address)) {
    if (metrics_ != nullptr) metrics_->refused_when_full.add();
    return {"500", "too many connections", {}};
  }
  return {"200", "OK", std::move(user_id)};
}

// Out: version, request id, status code, status text, user id, metadata.
void Admission::run() {
  while (!stop_.load()) {
    zmq::pollitem_t item{handler_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      std::vector<zmq::message_t> request;
      do {
        request.emplace_back();
        if (!handler_.recv(request.back(), zmq::recv_flags::dontwait)) break;
      } while (request.back().more());
      if (request.size() < 6) continue;
      const Verdict verdict = request[0].to_string() == "1.0"
                                  ? judge(request)
                                  : Verdict{"400", "unsupported ZAP version", {}};
      handler_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
      handler_.send(request[1], zmq::send_flags::sndmore);
      handler_.send(zmq::buffer(std::string(verdict.status)), zmq::send_flags::sndmore);
      handler_.send(zmq::buffer(verdict.text), zmq::send_flags::sndmore);
      handler_.send(zmq::buffer(verdict.user_id), zmq::send_flags::sndmore);
      handler_.send(zmq::str_buffer(""), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      spdlog::warn("admission: {}", e.what());
    }
  }
}

}  // namespace esd

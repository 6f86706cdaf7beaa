#include "es/client.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "es/endpoint.h"

#include <netdb.h>
#include <sys/stat.h>
#include <unistd.h>

namespace es {

using protocol::Kind;

namespace {

// One ZeroMQ context, so one I/O thread, for every Client of a process. A
// context per Client gave each its own I/O thread: 16 clients in a process
// were 16 more threads, each woken twice per request (in W2 they took a
// quarter of the machine's CPU). Never destroyed: a Client may outlive
// static destruction, and every socket lingers 0. A child made by fork()
// (which has none of its parent's threads) makes its own.
zmq::context_t& shared_context() {
  static std::mutex mu;
  static zmq::context_t* ctx = nullptr;
  static pid_t owner = 0;
  std::lock_guard lock(mu);
  if (ctx == nullptr || owner != ::getpid()) {
    ctx = new zmq::context_t(1);
    ctx->set(zmq::ctxopt::max_sockets, 8192);  // a socket or three per Client, Subscription
    owner = ::getpid();
  }
  return *ctx;
}

// Monitor addresses are inproc, so unique within the shared context.
std::atomic<std::uint64_t> monitors{0};

}  // namespace

Client::Client(std::string endpoint, ClientOptions options)
    : endpoint_(std::move(endpoint)), options_(options), ctx_(shared_context()) {
  reset();
}

Client::~Client() { close_sockets(); }

// The monitor is stopped before its reading end closes: libzmq's I/O thread
// sends each connection event with a blocking send, and a monitor socket
// with no reader blocks it for good, and with it every connection of the
// context (seen as es tail never reaching a node that came up: the I/O
// thread stuck in zmq_msg_send while a reset() had closed monitor_ first).
void Client::close_sockets() {
  if (sock_ != nullptr && monitor_ != nullptr) zmq_socket_monitor(sock_->handle(), nullptr, 0);
  monitor_.reset();
  sock_.reset();
}

void Client::reset() {
  awaited_.clear();
  stash_.clear();
  close_sockets();
  connected_ = false;
  ever_connected_ = false;
  ever_handshaken_ = false;
  handshake_drops_ = 0;
  asked_ = false;
  sock_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  sock_->set(zmq::sockopt::linger, 0);
  sock_->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes));
  set_curve_client(*sock_, options_.curve);
  handshake_failed_ = {};
  watch_connection();
  sock_->connect(endpoint_);
}

void Client::watch_connection() {
  const std::string address = "inproc://es-client-monitor-" + std::to_string(++monitors);
  if (zmq_socket_monitor(sock_->handle(), address.c_str(),
                         ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED |
                             ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
    return;  // no monitor: an unreachable node is a timeout, as it always was
  }
  monitor_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::pair);
  monitor_->set(zmq::sockopt::linger, 0);
  // No bound on the events queued for us (read at each request): a bound
  // would block libzmq's I/O thread once a client idles long enough while
  // its node is down (a retry event every 100 ms).
  monitor_->set(zmq::sockopt::rcvhwm, 0);
  monitor_->connect(address);
}

int Client::connection_events() {
  int refused = 0;
  if (monitor_ == nullptr) return refused;
  zmq::message_t event, address;
  while (monitor_->recv(event, zmq::recv_flags::dontwait)) {
    if (event.more()) (void)monitor_->recv(address, zmq::recv_flags::dontwait);
    if (event.size() < sizeof(std::uint16_t)) continue;
    std::uint16_t id = 0;
    std::uint32_t value = 0;
    std::memcpy(&id, event.data(), sizeof id);
    if (event.size() >= sizeof id + sizeof value)
      std::memcpy(&value, static_cast<const char*>(event.data()) + sizeof id, sizeof value);
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      handshake_failed_ = {};
      ever_handshaken_ = true;
    }
    if (Status failed = handshake_failure(id, value); !failed.ok()) handshake_failed_ = failed;
    if (id == ZMQ_EVENT_CONNECTED) connected_ = ever_connected_ = true;
    if (id == ZMQ_EVENT_DISCONNECTED) {
      connected_ = false;
      if (!ever_handshaken_ && ++handshake_drops_ >= kHandshakeDrops && handshake_failed_.ok())
        handshake_failed_ = dropped_in_handshake();
    }
    if (id == ZMQ_EVENT_CONNECT_RETRIED) ++refused;
  }
  return refused;
}

Status Client::refused() const {
  // ZeroMQ retries an unknown host name as it retries a refusal: tell them
  // apart here, on the failure path only.
  std::string host = endpoint_host(endpoint_);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo* found = nullptr;
  if (!host.empty() && ::getaddrinfo(host.c_str(), nullptr, nullptr, &found) != 0)
    return Status::unavailable("cannot reach " + endpoint_ + ": the host " + host +
                               " is not known");
  if (found != nullptr) ::freeaddrinfo(found);
  return Status::unavailable("nothing listens at " + endpoint_ + " (the connection was refused)");
}

Status Client::handshake_failure(std::uint16_t event, std::uint32_t value) const {
  const bool keys = options_.curve.enabled();
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && value == 500) {  // admission.h
    return Status::unavailable(endpoint_ +
                               " is taking no more connections now (esd --max-clients); try "
                               "again later");
  }
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
    return Status::denied(
        fmt::format("{} refused this client's key{} (status {}): the node's allow-list "
                    "(esd --allow) does not hold it",
                    endpoint_, keys ? " " + options_.curve.own.public_key : "", value));
  }
  if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
      value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
    return keys ? Status::unavailable(endpoint_ +
                                      " does not use keys, and this client gives them (--key-file, "
                                      "--server-key): drop them, or give the node --key-file")
                : Status::denied(endpoint_ +
                                 " takes only clients with keys: give es --key-file FILE and "
                                 "--server-key KEY (es keygen makes a pair)");
  }
  if (keys && (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
               event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)) {
    return Status::unavailable(
        fmt::format("the handshake with {} failed: is {} its public key (--server-key), and "
                    "does it take keys (esd --key-file)? ({})",
                    endpoint_, options_.curve.server_key, zmq_strerror(static_cast<int>(value))));
  }
  return {};
}

// The node closed the connection before the handshake ended, again and
// again, without a word: a node that takes only clients with keys may close
// before the client has read why (its greeting), and one whose key is not
// the --server-key cannot answer at all.
Status Client::dropped_in_handshake() const {
  if (!options_.curve.enabled()) {
    return Status::denied(fmt::format(
        "{} closed the connection during the handshake {} times: it takes only clients with "
        "keys, most likely: give es --key-file FILE and --server-key KEY (es keygen makes a pair)",
        endpoint_, handshake_drops_));
  }
  return Status::unavailable(
      fmt::format("{} closed the connection during the handshake {} times: is {} its public key "
                  "(--server-key)?",
                  endpoint_, handshake_drops_, options_.curve.server_key));
}

Status Client::missing_socket_file() const {
  constexpr std::string_view kIpc = "ipc://";
  if (endpoint_.rfind(kIpc, 0) != 0 || endpoint_.size() == kIpc.size() ||
      endpoint_[kIpc.size()] == '@') {  // '@': Linux's abstract namespace, no file
    return {};
  }
  struct stat st {};
  if (::stat(endpoint_.c_str() + kIpc.size(), &st) == 0) return {};
  return Status::unavailable("nothing listens at " + endpoint_ + " (no socket file " +
                             endpoint_.substr(kIpc.size()) + ")");
}

template <class Request>
Result<std::uint64_t> Client::send(Kind kind, const Request& request) {
  const std::uint64_t id = next_request_id_++;
  std::string frame = protocol::encode(kind, id, request);
  try {
    if (!sock_->send(zmq::buffer(frame), zmq::send_flags::dontwait)) {
      return Status::unavailable("cannot send to " + endpoint_ + ": the queue is full");
    }
  } catch (const zmq::error_t& e) {
    return Status::unavailable(std::string("talking to ") + endpoint_ + ": " + e.what());
  }
  awaited_.insert(id);
  return id;
}

template <class Reply>
Result<Reply> Client::await(std::uint64_t id, Kind ok_kind) {
  zmq::message_t msg;
  if (auto it = stash_.find(id); it != stash_.end()) {
    msg = std::move(it->second);
    stash_.erase(it);
  } else {
    auto got = receive(id);
    if (!got.ok()) {
      awaited_.erase(id);  // abandoned: a late answer is dropped
      return got.status();
    }
    msg = std::move(got).value();
  }
  awaited_.erase(id);
  std::string_view frame(static_cast<const char*>(msg.data()), msg.size());
  auto header = protocol::decode_header(frame);
  if (!header.ok()) return header.status();
  if (header->kind == Kind::kError) {
    auto err = protocol::decode_body<protocol::ErrorReply>(frame);
    if (!err.ok()) return err.status();
    return err->to_status();
  }
  if (header->kind != ok_kind) {
    return Status::protocol("unexpected reply kind " +
                            std::to_string(static_cast<int>(header->kind)));
  }
  return protocol::decode_body<Reply>(frame);
}

Result<zmq::message_t> Client::receive(std::uint64_t id) {
  try {
    auto deadline = std::chrono::steady_clock::now() + options_.timeout;
    ES_RETURN_IF_ERROR(missing_socket_file());
    // Refusals seen before this request are old news (ZeroMQ keeps
    // retrying, and the node may be up by now), unless this is the first
    // request on this connection: a new one says that nothing listens.
    const bool first = !asked_;
    asked_ = true;
    // (A connection dropped in its handshake is retried too: that is not a
    // refusal, and the handshake's failure, once seen, says why.)
    const int retried = connection_events();
    if (!handshake_failed_.ok()) return handshake_failed_;
    if (retried > 0 && first && !ever_connected_) return refused();
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      zmq::pollitem_t items[] = {{sock_->handle(), 0, ZMQ_POLLIN, 0},
                                 {monitor_ ? monitor_->handle() : nullptr, 0, ZMQ_POLLIN, 0}};
      if (left.count() <= 0 || zmq::poll(items, monitor_ ? 2 : 1, left) == 0) {
        return Status::unavailable(
            fmt::format("no answer from {} within {:g} s (is esd running there?)", endpoint_,
                        static_cast<double>(options_.timeout.count()) / 1000));
      }
      // A reply already queued wins over the news that the node went away:
      // `es stop` gets its answer just before the node closes the socket.
      zmq::message_t msg;
      if (!sock_->recv(msg, zmq::recv_flags::dontwait)) {
        const int events = connection_events();
        if (!handshake_failed_.ok()) return handshake_failed_;
        if (events == 0 || connected_) continue;
        if (!sock_->recv(msg, zmq::recv_flags::dontwait)) {
          if (!ever_connected_) return refused();
          // Dropped during the handshake (a node that takes only keys may
          // close first): the next try's monitor event says why.
          if (!ever_handshaken_) continue;
          return Status::unavailable("lost the connection to " + endpoint_ +
                                     " before it answered (did the node stop?)");
        }
      }
      auto header = protocol::decode_header(
          std::string_view(static_cast<const char*>(msg.data()), msg.size()));
      if (!header.ok()) return header.status();
      if (header->request_id == id) return msg;
      // Another request still awaited keeps its answer; an abandoned one's
      // is dropped.
      if (awaited_.count(header->request_id) != 0) stash_[header->request_id] = std::move(msg);
    }
  } catch (const zmq::error_t& e) {
    return Status::unavailable(std::string("talking to ") + endpoint_ + ": " + e.what());
  }
}

void Client::abandon(std::uint64_t id) {
  awaited_.erase(id);
  stash_.erase(id);
}

template <class Reply, class Request>
Result<Reply> Client::call(Kind kind, Kind ok_kind, const Request& request) {
  auto id = send(kind, request);
  if (!id.ok()) return id.status();
  return await<Reply>(*id, ok_kind);
}

Result<std::uint64_t> Client::send_read(const ReadRequest& request) {
  return send(Kind::kRead, request);
}
Result<ReadResult> Client::await_read(std::uint64_t id) {
  return await<ReadResult>(id, Kind::kReadOk);
}

Result<protocol::HelloReply> Client::hello() {
  return call<protocol::HelloReply>(Kind::kHello, Kind::kHelloOk, protocol::Empty{});
}
Result<AppendResult> Client::append(const AppendRequest& request) {
  return call<AppendResult>(Kind::kAppend, Kind::kAppendOk, request);
}
Result<ReadResult> Client::read(const ReadRequest& request) {
  return call<ReadResult>(Kind::kRead, Kind::kReadOk, request);
}
Result<protocol::StreamsReply> Client::streams(const protocol::StreamsRequest& request) {
  return call<protocol::StreamsReply>(Kind::kStreams, Kind::kStreamsOk, request);
}
Result<protocol::StatusReply> Client::status() {
  return call<protocol::StatusReply>(Kind::kStatus, Kind::kStatusOk, protocol::Empty{});
}
Result<protocol::StopReply> Client::stop() {
  auto stopped = call<protocol::StopReply>(Kind::kStop, Kind::kStopOk, protocol::Empty{});
  if (stopped.ok()) await_disconnect();
  return stopped;
}

void Client::await_disconnect() {
  if (monitor_ == nullptr) return;
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  (void)connection_events();
  while (connected_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    zmq::pollitem_t item{monitor_->handle(), 0, ZMQ_POLLIN, 0};
    if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0) return;
    (void)connection_events();
  }
}

Result<protocol::Empty> Client::replica_report(const protocol::ReplicaReport& report) {
  return call<protocol::Empty>(Kind::kReplicaReport, Kind::kReplicaReportOk, report);
}
Result<AppendResult> Client::change_stream_rules(const protocol::StreamRulesRequest& request) {
  return call<AppendResult>(Kind::kStreamRules, Kind::kAppendOk, request);
}
Result<AppendResult> Client::forget(const protocol::ForgetRequest& request) {
  return call<AppendResult>(Kind::kForget, Kind::kAppendOk, request);
}
Result<protocol::SubjectKeysReply> Client::subject_keys(
    const protocol::SubjectKeysRequest& request) {
  return call<protocol::SubjectKeysReply>(Kind::kSubjectKeys, Kind::kSubjectKeysOk, request);
}
Result<protocol::PromoteReply> Client::promote(const protocol::PromoteRequest& request) {
  return call<protocol::PromoteReply>(Kind::kPromote, Kind::kPromoteOk, request);
}

Result<protocol::BackupReply> Client::backup(const protocol::BackupRequest& request) {
  return call<protocol::BackupReply>(Kind::kBackup, Kind::kBackupOk, request);
}

Result<protocol::CheckpointReply> Client::checkpoint(const std::string& name) {
  return call<protocol::CheckpointReply>(Kind::kCheckpointGet, Kind::kCheckpointOk,
                                         protocol::CheckpointQuery{name});
}
Result<protocol::CheckpointReply> Client::set_checkpoint(const Checkpoint& checkpoint) {
  return call<protocol::CheckpointReply>(Kind::kCheckpointSet, Kind::kCheckpointOk, checkpoint);
}
Result<protocol::CheckpointListReply> Client::checkpoints() {
  return call<protocol::CheckpointListReply>(Kind::kCheckpointList, Kind::kCheckpointListOk,
                                             protocol::Empty{});
}

Result<protocol::CheckpointRemoveReply> Client::remove_checkpoint(
    const protocol::CheckpointRemoveRequest& request) {
  return call<protocol::CheckpointRemoveReply>(Kind::kCheckpointRemove, Kind::kCheckpointRemoveOk,
                                               request);
}

Result<protocol::GroupSyncReply> Client::group_sync(const protocol::GroupSyncRequest& request) {
  return call<protocol::GroupSyncReply>(Kind::kGroupSync, Kind::kGroupSyncOk, request);
}

Result<protocol::ProjectionInfo> Client::projection_add(
    const protocol::ProjectionAddRequest& request) {
  return call<protocol::ProjectionInfo>(Kind::kProjectionAdd, Kind::kProjectionOk, request);
}
Result<protocol::ProjectionInfo> Client::projection_control(
    const protocol::ProjectionControlRequest& request) {
  return call<protocol::ProjectionInfo>(Kind::kProjectionControl, Kind::kProjectionOk, request);
}
Result<protocol::ProjectionListReply> Client::projections(const protocol::ProjectionQuery& query) {
  return call<protocol::ProjectionListReply>(Kind::kProjectionList, Kind::kProjectionListOk, query);
}
Result<protocol::ProjectionStateReply> Client::projection_state(
    const protocol::ProjectionStateRequest& request) {
  return call<protocol::ProjectionStateReply>(Kind::kProjectionState, Kind::kProjectionStateOk,
                                              request);
}

std::string Client::publish_endpoint(const protocol::HelloReply& hello) const {
  return reachable_endpoint(hello.publish, endpoint_host(endpoint_));
}

}  // namespace es

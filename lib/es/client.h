// es/client.h
//
// Client speaks to one esd over ZeroMQ (DEALER -> the node's ROUTER). Each
// call sends one request and waits up to `timeout` for its answer; a node
// that does not answer in time gives Code::kUnavailable. Replies to earlier,
// timed-out requests are recognised by their request id and dropped.
//
// Nothing listening is told apart from a node that is slow: a socket
// monitor sees ZeroMQ's connect being refused while a request waits (or an
// ipc socket file is missing), and the request then fails at once (within
// ZeroMQ's 100 ms reconnect interval) with kUnavailable ("nothing listens
// at ENDPOINT"), where ZeroMQ alone would retry silently until the
// timeout. ZeroMQ goes on retrying: a later request finds a node that has
// come up since. A node that is there but silent is still a timeout.
//
// Subscriptions (es/subscription.h) are built on a Client.
//
// Thread safety: a Client belongs to one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <zmq.hpp>

#include "es/curve.h"
#include "es/event.h"
#include "es/result.h"

#include "protocol/messages.h"

namespace es {

struct ClientOptions {
  std::chrono::milliseconds timeout{5000};
  // CurveZMQ: the node's public key and this client's pair (es/curve.h);
  // empty: none. Subscriptions made on the Client present them too.
  CurveClient curve;
};

class Client {
 public:
  // Never fails for an unreachable node: connecting is lazy in ZeroMQ; the
  // first request reports kUnavailable (at once if the connection is
  // refused, else when it goes unanswered).
  Client(std::string endpoint, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<protocol::HelloReply> hello();
  Result<AppendResult> append(const AppendRequest& request);
  Result<ReadResult> read(const ReadRequest& request);
  Result<protocol::StreamsReply> streams(const protocol::StreamsRequest& request);
  Result<protocol::StatusReply> status();
  // Once the node answers, waits (at most the timeout) until it has closed
  // the connection: its sockets, and so its ports, are let go of, and a
  // script may start another node on them at once.
  Result<protocol::StopReply> stop();
  Result<protocol::CheckpointReply> checkpoint(const std::string& name);
  // Moves a named subscription's checkpoint forward; the reply holds the
  // position stored after the commit (never less than before).
  Result<protocol::CheckpointReply> set_checkpoint(const Checkpoint& checkpoint);
  Result<protocol::CheckpointListReply> checkpoints();
  // Deletes a named subscription's checkpoint, or a group's (kNotFound:
  // none of that name; kBusy: the group has live members).
  Result<protocol::CheckpointRemoveReply> remove_checkpoint(
      const protocol::CheckpointRemoveRequest& request);
  Result<protocol::GroupSyncReply> group_sync(const protocol::GroupSyncRequest& request);
  Result<protocol::ProjectionInfo> projection_add(const protocol::ProjectionAddRequest& request);
  Result<protocol::ProjectionInfo> projection_control(
      const protocol::ProjectionControlRequest& request);
  Result<protocol::ProjectionListReply> projections(const protocol::ProjectionQuery& query);
  Result<protocol::ProjectionStateReply> projection_state(
      const protocol::ProjectionStateRequest& request);

  Result<protocol::Empty> replica_report(const protocol::ReplicaReport& report);
  Result<protocol::PromoteReply> promote(const protocol::PromoteRequest& request);
  // Deletes a stream or changes its retention (admin); the reply is the
  // append of the event that records it.
  Result<AppendResult> change_stream_rules(const protocol::StreamRulesRequest& request);
  // Destroys a data subject's key on the node and its replicas (admin).
  Result<AppendResult> forget(const protocol::ForgetRequest& request);
  // A replica's copy of its primary's subject keys (replica role).
  Result<protocol::SubjectKeysReply> subject_keys(const protocol::SubjectKeysRequest& request);
  // Answers once the node has made and checked the copy: give the Client a
  // timeout that long.
  Result<protocol::BackupReply> backup(const protocol::BackupRequest& request);

  // Drops the connection and whatever it had queued, and connects anew
  // (after the node was lost: no stale request reaches it later).
  void reset();

  const std::string& endpoint() const { return endpoint_; }
  std::chrono::milliseconds timeout() const { return options_.timeout; }
  const ClientOptions& options() const { return options_; }
  // How long each later request waits for its answer.
  void set_timeout(std::chrono::milliseconds timeout) { options_.timeout = timeout; }
  zmq::context_t& context() { return ctx_; }
  // The node's publisher as `hello` gives it, with the host this client
  // used when the node bound a wildcard address.
  std::string publish_endpoint(const protocol::HelloReply& hello) const;

  // A read sent ahead (pipelining): send_read() returns its request id,
  // await_read() its answer; a request not awaited is abandon()ed. Other
  // calls made in between keep working: each answer goes to its request.
  Result<std::uint64_t> send_read(const ReadRequest& request);
  Result<ReadResult> await_read(std::uint64_t id);
  void abandon(std::uint64_t id);

 private:
  template <class Reply, class Request>
  Result<Reply> call(protocol::Kind kind, protocol::Kind ok_kind, const Request& request);
  template <class Request>
  Result<std::uint64_t> send(protocol::Kind kind, const Request& request);
  template <class Reply>
  Result<Reply> await(std::uint64_t id, protocol::Kind ok_kind);
  // The frame answering `id`, stashing answers to other awaited requests.
  Result<zmq::message_t> receive(std::uint64_t id);
  // Starts watching the connection of sock_ (before it connects).
  void watch_connection();
  // Closes sock_ and its monitor, in the order libzmq needs.
  void close_sockets();
  // Reads the monitor's events (connected_ follows them); returns how many
  // connects were refused (retried) among them.
  int connection_events();
  // Waits until the monitor says the connection closed (or the timeout).
  void await_disconnect();
  // kUnavailable for a connection refused (or a host name not known).
  Status refused() const;
  // Why the last handshake failed, from the monitor's event; ok if none did.
  Status handshake_failure(std::uint16_t event, std::uint32_t value) const;
  // Why connections keep closing during the handshake (kHandshakeDrops).
  Status dropped_in_handshake() const;
  // kUnavailable for an ipc endpoint whose socket file does not exist.
  Status missing_socket_file() const;

  std::string endpoint_;
  ClientOptions options_;
  zmq::context_t& ctx_;  // the process's (shared_context() in client.cc)
  std::unique_ptr<zmq::socket_t> sock_;
  std::unique_ptr<zmq::socket_t> monitor_;   // PAIR: sock_'s connection events
  bool connected_ = false;                   // connected now, as the monitor tells
  bool ever_connected_ = false;              // was connected since reset()
  bool ever_handshaken_ = false;             // a handshake succeeded since reset()
  int handshake_drops_ = 0;                  // connections closed mid-handshake since reset()
  static constexpr int kHandshakeDrops = 3;  // how many say that the handshake cannot succeed
  bool asked_ = false;                       // a request waited on this connection
  Status handshake_failed_;                  // the last handshake's failure, until one succeeds
  std::uint64_t next_request_id_ = 1;
  std::unordered_set<std::uint64_t> awaited_;                // sent, answer wanted
  std::unordered_map<std::uint64_t, zmq::message_t> stash_;  // answers not yet awaited
};

}  // namespace es

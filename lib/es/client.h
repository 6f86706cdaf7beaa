// es/client.h
//
// Client speaks to one esd over ZeroMQ (DEALER -> the node's ROUTER). Each
// call sends one request and waits up to `timeout` for its answer; a node
// that does not answer in time gives Code::kUnavailable. Replies to earlier,
// timed-out requests are recognised by their request id and dropped.
//
// Subscription delivers every committed event matching a filter, from a
// position on, exactly once and in position order: it subscribes to the
// node's publisher first, pages the history over requests, then follows the
// live feed, and repairs any gap it sees (a skipped position, or a heartbeat
// ahead of what it has) from the store.
//
// Thread safety: a Client or Subscription belongs to one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "es/event.h"
#include "es/result.h"

#include "protocol/messages.h"

namespace es {

struct ClientOptions {
  std::chrono::milliseconds timeout{5000};
};

class Client {
 public:
  // Never fails for an unreachable node: connecting is lazy in ZeroMQ; the
  // first request that goes unanswered reports kUnavailable.
  Client(std::string endpoint, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<protocol::HelloReply> hello();
  Result<AppendResult> append(const AppendRequest& request);
  Result<ReadResult> read(const ReadRequest& request);
  Result<protocol::StreamsReply> streams(const protocol::StreamsRequest& request);
  Result<protocol::StatusReply> status();
  Result<protocol::StopReply> stop();

  const std::string& endpoint() const { return endpoint_; }
  zmq::context_t& context() { return ctx_; }
  // The node's publisher, with the host this client used when the node
  // bound a wildcard address.
  Result<std::string> publish_endpoint();

 private:
  template <class Reply, class Request>
  Result<Reply> call(protocol::Kind kind, protocol::Kind ok_kind, const Request& request);

  std::string endpoint_;
  ClientOptions options_;
  zmq::context_t ctx_;
  zmq::socket_t sock_;
  std::uint64_t next_request_id_ = 1;
};

struct SubscriptionFilter {
  std::string stream;              // empty: any
  std::string category;            // empty: any
  std::vector<std::string> types;  // empty: any
  bool matches(const RecordedEvent& e) const;
};

class Subscription {
 public:
  // Delivers from position `from` (1 = the start of the log).
  Subscription(Client& client, SubscriptionFilter filter, Position from);
  ~Subscription();

  // The head position when the node was asked (for --from end).
  static Result<Position> head(Client& client);

  // Calls `deliver` for every matching event in order until it returns
  // false, `stop` turns true, or an error occurs (kUnavailable when the node
  // stays silent past the client's timeout while catching up). Waiting for
  // live events never times out.
  Status run(const std::function<bool(const RecordedEvent&)>& deliver,
             const std::atomic<bool>& stop);

  Position next_position() const { return next_; }

 private:
  Status catch_up(const std::function<bool(const RecordedEvent&)>& deliver, Position until,
                  bool* keep_going);

  Client& client_;
  SubscriptionFilter filter_;
  Position next_;
  std::unique_ptr<zmq::socket_t> sub_;
};

}  // namespace es

// lib/view/cluster.h
//
// What `es nodes` (and `es status --cluster`, and esd's dashboard) sees: every node reachable
// from the given ones, found through the primary each replica follows and
// the replicas each node lists, each asked for its status and projections
// at the same time (at most `timeout` each). Lag is measured against the
// cluster's primary when it answers (in events, and in seconds as the
// difference of the two heads' commit times); against the primary's head
// as the replica last saw it otherwise. A node that does not answer is
// "stopped" when it said it was stopping (es stop, a signal: a primary to
// its replicas, a replica to its primary), "unreachable" otherwise (killed,
// cut off, never there). Each answering node's chain digest at the lowest
// head among them shows whether their logs agree up to there.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "es/client.h"

#include "protocol/messages.h"

namespace es::view {

struct NodeView {
  std::string endpoint;
  bool up = false;
  std::string error;     // why it is unreachable
  bool stopped = false;  // unreachable, after it said it was stopping
  es::protocol::StatusReply status;
  std::vector<es::protocol::ProjectionInfo> projections;
  std::string role;  // as it says, or as others list it
  std::uint64_t lag_events = 0;
  std::optional<double> lag_s;  // unknown while its primary is unreachable
  // Its chain digest at the lowest head of the nodes that answered: equal on
  // every node whose log agrees up to there.
  es::Position common = 0;
  std::optional<es::Chain> digest_at_common;
};

// `options`: each node is asked with this timeout and these keys (one
// --server-key for every node: a cluster whose nodes share a key pair).
std::vector<NodeView> collect_nodes(const std::vector<std::string>& seeds,
                                    const es::ClientOptions& options);

// One node as it answers now: its status and projections, without what
// the others say of it (lag, digests).
NodeView ask_node(const std::string& endpoint, const es::ClientOptions& options);

// One line per node: NDJSON, or a table row with -o text (table_header()).
std::string node_line(const NodeView& node, bool text);
std::string table_header(const std::vector<NodeView>& nodes);

}  // namespace es::view

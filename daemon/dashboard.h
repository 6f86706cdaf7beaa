// daemon/dashboard.h
//
// esd's dashboard: a page (daemon/web/, embedded at build time: no files
// beside the binary, nothing fetched from elsewhere) and the JSON API it
// reads, on the HTTP listener (--http-listen). The API is a client of the
// node's own request socket like any other, so that it answers exactly as
// `es` does (the same JSON lines, the same checks and roles); the cluster
// view is `es nodes`' discovery (view/cluster.h).
//
// Who may do what:
//   - every /api request and the page need a Host header naming the
//     listener (127.0.0.1, localhost or [::1] on loopback, else the bound
//     address), so that a page of another site cannot reach it through DNS
//     rebinding; a request with an Origin header must come from that host;
//   - changes (POST: append, stop) need the admin token (`Authorization:
//     Bearer TOKEN`), which esd writes to DATA/http.token (0600) at each
//     start, or reads from --http-token-file; on a listener other than loopback, reads need it
//     too (or `?token=` for the live stream, which EventSource cannot give
//     headers).
// Bounds: a POST body of at most kMaxBody bytes; at most kMaxLive live
// streams (Server-Sent Events) at once, fewer than the listener's workers,
// so that /livez and /readyz always find one free.
//
// Thread safety: the handlers run on the listener's worker threads; each
// request makes its own client; the nodes' view is cached under a mutex.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "es/client.h"

#include "projection/sandbox.h"
#include "view/cluster.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace esd {

struct DashboardConfig {
  std::string node;          // the node's request endpoint, as a local client reaches it
  es::ClientOptions client;  // what the dashboard presents to this node (an admin key)
  es::ClientOptions peers;   // and to the others (this node's own pair, as its followers do)
  std::string token;         // the admin token
  std::string host;          // the listener's address as bound: host
  int port = 0;              //   and port
  bool loopback = true;      // only this machine reaches the listener
  // States at a position are folded by a projection worker (esd
  // --projection-worker at) under the node's limits, reading the log the
  // node's projections read (its own, or --project-from's), with the
  // node's key pair when it has one.
  es::SandboxLimits limits;
  std::string log;         // the endpoint of that log
  std::string key_file;    // the node's key pair
  std::string server_key;  // the log's node's public key
};

class Dashboard {
 public:
  static constexpr std::size_t kMaxBody = 1 << 20;
  static constexpr int kMaxLive = 4;
  static constexpr int kMaxReplays = 2;  // states at a position, folded at once

  explicit Dashboard(DashboardConfig config) : config_(std::move(config)) {}
  // Adds the page's and the API's routes.
  void route(httplib::Server& server);
  // Checks Host, Origin and the token for a request to the page or the API;
  // false after answering it (403, 401).
  bool admit(const httplib::Request& req, httplib::Response& res) const;
  // Ends the live streams (before the listener stops).
  void close();

 private:
  bool host_allowed(const std::string& host) const;
  bool token_given(const httplib::Request& req) const;
  // A client of this node, or of another node of the cluster.
  es::Client client(const std::string& endpoint) const;
  // Every node reachable from this one, as /api/nodes answers, and as
  // found (at most one discovery a second, shared by every caller).
  struct Nodes {
    std::string json;
    std::vector<es::view::NodeView> views;
    // The node of the cluster named `endpoint`; null when none is.
    const es::view::NodeView* find(const std::string& endpoint) const;
  };
  std::shared_ptr<const Nodes> nodes();
  // Whose projection a request means (?node=, default this node): the
  // endpoint, or "" after answering 404.
  std::string projection_node(const httplib::Request& req, httplib::Response& res);
  void live(const httplib::Request& req, httplib::Response& res);
  void states_at(const std::string& node, const std::string& name, es::Position at,
                 const std::string& key, httplib::Response& res);

  DashboardConfig config_;
  std::atomic<bool> closing_{false};
  std::atomic<int> live_{0};
  std::atomic<int> replays_{0};
  std::mutex live_mu_;
  std::set<std::atomic<bool>*> live_stops_;  // each live stream's, guarded by live_mu_
  std::mutex nodes_mu_;
  std::shared_ptr<const Nodes> nodes_cached_;
  std::chrono::steady_clock::time_point nodes_at_{};
  // How each node seen up can be started again, kept for when it is down.
  std::map<std::string, std::string> restart_;
};

// The admin token: the first line of `file` (--http-token-file), else 32
// random bytes in hex, new at each start.
es::Result<std::string> admin_token(const std::string& file);
// Where esd writes the token for its user (0600, replaced at each start).
inline constexpr const char* kTokenFile = "http.token";
es::Status write_token_file(const std::string& data_dir, const std::string& token);

// The endpoint a local client reaches a node listening on `listen` by: a
// wildcard address becomes loopback.
std::string local_endpoint(const std::string& listen);

}  // namespace esd

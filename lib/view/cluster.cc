#include "view/cluster.h"

#include <algorithm>
#include <future>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "es/client.h"
#include "es/digest.h"
#include "es/subscription.h"

#include "view/output.h"

namespace es::view {
namespace {

void measure_lag(std::vector<NodeView>& nodes) {
  // The cluster's primary: an answering primary that follows nobody.
  const NodeView* primary = nullptr;
  for (const auto& n : nodes) {
    if (n.up && n.status.role == "primary") primary = &n;
  }
  for (auto& n : nodes) {
    if (!n.up || n.status.role != "replica") continue;
    if (primary != nullptr) {
      n.lag_events =
          primary->status.head > n.status.head ? primary->status.head - n.status.head : 0;
      const double dt =
          static_cast<double>(primary->status.head_time_us - n.status.head_time_us) / 1e6;
      n.lag_s = n.lag_events == 0 ? 0.0 : std::max(dt, 0.0);
    } else {
      n.lag_events =
          n.status.primary_head > n.status.head ? n.status.primary_head - n.status.head : 0;
      n.lag_s.reset();
    }
  }
}

// A node with a copy of the log: a primary or replica, not a read node.
bool holds_log(const NodeView& n) { return n.up && n.status.role != "read"; }

// The digest of each answering node that holds a log, at the lowest head among them.
void digest_at_common(std::vector<NodeView>& nodes, const es::ClientOptions& options) {
  es::Position common = 0;
  bool first = true;
  for (const auto& n : nodes) {
    if (!holds_log(n)) continue;
    common = first ? n.status.head : std::min(common, n.status.head);
    first = false;
  }
  if (common == 0) return;
  std::vector<std::future<void>> asked;
  for (auto& n : nodes) {
    if (!holds_log(n)) continue;
    n.common = common;
    asked.push_back(std::async(std::launch::async, [&n, common, &options] {
      es::Client client(n.endpoint, options);
      es::ReadRequest rq;
      rq.from = common;
      rq.limit = 1;
      auto page = client.read(rq);
      if (page.ok() && !page->events.empty() && page->events.front().position == common)
        n.digest_at_common = page->events.front().chain;
    }));
  }
  for (auto& f : asked) f.get();
}

}  // namespace

NodeView ask_node(const std::string& endpoint, const es::ClientOptions& options) {
  NodeView v;
  v.endpoint = endpoint;
  es::Client client(endpoint, options);
  auto status = client.status();
  if (!status.ok()) {
    v.error = status.status().message();
    return v;
  }
  v.up = true;
  v.status = std::move(status).value();
  v.role = v.status.role;
  if (auto p = client.projections(es::protocol::ProjectionQuery{}); p.ok())
    v.projections = std::move(p->projections);
  return v;
}

std::vector<NodeView> collect_nodes(const std::vector<std::string>& seeds,
                                    const es::ClientOptions& options) {
  std::vector<NodeView> nodes;
  std::unordered_set<std::string> seen;
  std::unordered_map<std::string, std::string> listed_as;  // endpoint -> role others give it
  std::unordered_set<std::string> said_stopping;           // replicas whose last report said so
  std::vector<std::string> wave;
  auto add = [&](const std::string& endpoint) {
    if (!endpoint.empty() && seen.insert(endpoint).second) wave.push_back(endpoint);
  };
  for (const auto& s : seeds) add(s);
  while (!wave.empty()) {
    std::vector<std::future<NodeView>> asked;
    for (const auto& endpoint : wave)
      asked.push_back(std::async(std::launch::async, ask_node, endpoint, std::cref(options)));
    wave.clear();
    for (auto& f : asked) {
      NodeView v = f.get();
      if (v.up) {
        const auto& st = v.status;
        if (st.listen != v.endpoint && !seen.insert(st.listen).second) continue;  // seen by name
        if (!st.primary.empty()) listed_as.emplace(st.primary, "primary");
        add(st.primary);
        add(st.source);  // a read node's
        for (const auto& r : st.replicas) {
          listed_as.emplace(r.listen, r.role);
          if (r.stopping) said_stopping.insert(r.listen);
          add(r.listen);
        }
      }
      nodes.push_back(std::move(v));
    }
  }
  for (auto& n : nodes) {
    if (n.up) continue;
    if (listed_as.contains(n.endpoint)) n.role = listed_as[n.endpoint];
    n.stopped = said_stopping.contains(n.endpoint) ||
                std::any_of(nodes.begin(), nodes.end(), [&](const NodeView& r) {
                  return r.up && r.status.primary == n.endpoint &&
                         r.status.follow_error == es::kNodeStopping;
                });
  }
  measure_lag(nodes);
  digest_at_common(nodes, options);
  std::stable_sort(nodes.begin(), nodes.end(), [](const NodeView& a, const NodeView& b) {
    if ((a.role == "primary") != (b.role == "primary")) return a.role == "primary";
    return a.endpoint < b.endpoint;
  });
  return nodes;
}

std::string table_header(const std::vector<NodeView>& nodes) {
  es::Position common = 0;
  for (const auto& n : nodes) common = std::max(common, n.common);
  return fmt::format("{:<26} {:<8} {:<11} {:>9} {:>8} {:>7} {:>7}  {:<17} {}", "NODE", "ROLE",
                     "STATE", "HEAD", "LAG", "LAG_S", "SEEN_S", fmt::format("DIGEST@{}", common),
                     "PROJECTIONS");
}

std::string node_line(const NodeView& n, bool text) {
  const auto& st = n.status;
  const bool read = n.up && st.role == "read";
  std::string state = !n.up                  ? (n.stopped ? "stopped" : "unreachable")
                      : read                 ? st.source_state
                      : st.role == "replica" ? st.follow_state
                                             : "up";
  if (text) {
    std::string projections;
    for (const auto& p : n.projections) {
      if (!projections.empty()) projections += ' ';
      projections += fmt::format("{}@{}", p.name, p.position);
    }
    std::string lag = n.up && st.role == "replica"        ? std::to_string(n.lag_events)
                      : read && st.source_lag_events >= 0 ? std::to_string(st.source_lag_events)
                                                          : "-";
    std::string lag_s = n.lag_s ? fmt::format("{:.3f}", *n.lag_s) : "-";
    // How long ago a replica last heard from its primary (a read node from
    // its source): the staleness of what it serves while that one is away.
    const auto contact = seconds_ago(read ? st.source_contact_ms : st.primary_contact_ms);
    std::string seen =
        n.up && st.role != "primary" && contact ? fmt::format("{:.1f}", *contact) : "-";
    // The first 16 hex digits: enough to see that two logs agree.
    std::string digest = n.digest_at_common ? es::to_hex(*n.digest_at_common).substr(0, 16) : "-";
    return fmt::format("{:<26} {:<8} {:<11} {:>9} {:>8} {:>7} {:>7}  {:<17} {}", n.endpoint,
                       n.role.empty() ? "?" : n.role, state,
                       n.up && !read ? std::to_string(st.head) : "-", lag, lag_s, seen, digest,
                       n.up ? projections : n.error);
  }
  ObjectWriter w(false);
  w.field("node", n.endpoint).field("state", state);
  if (!n.role.empty()) w.field("role", n.role);
  if (!n.up) return w.field("error", n.error).str();
  if (read) {
    add_source_fields(w, st);  // no head: a read node holds no copy of the log
  } else {
    w.field("head", st.head);
  }
  if (st.role == "replica") {
    w.field("primary", st.primary).field("lag_events", n.lag_events);
    w.field("lag_s", n.lag_s);
    w.field("primary_contact_s", seconds_ago(st.primary_contact_ms));
    if (!st.follow_error.empty()) w.field("follow_error", st.follow_error);
  }
  if (n.digest_at_common) {
    w.raw("digest_at",
          ObjectWriter(false)
              .field("position", n.common)
              .field("digest", es::to_hex(*n.digest_at_common))
              .str(),
          "");
  }
  std::string projections = "[";
  for (const auto& p : n.projections) {
    if (projections.size() > 1) projections += ',';
    projections += ObjectWriter(false)
                       .field("name", p.name)
                       .field("status", p.status)
                       .field("position", p.position)
                       .field("lag", p.head > p.position ? p.head - p.position : 0)
                       .str();
  }
  projections += ']';
  return w.raw("projections", projections, projections).str();
}

}  // namespace es::view

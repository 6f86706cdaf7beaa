#include "dashboard.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <future>
#include <thread>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include "es/json.h"
#include "es/subscription.h"
#include "es/whole_file.h"

#include "projection_worker.h"
#include "view/cluster.h"
#include "view/output.h"
#include "web_assets.h"

#include <httplib.h>
#include <signal.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

namespace esd {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kNodesEvery = std::chrono::milliseconds(1000);
constexpr auto kNodeTimeout = std::chrono::milliseconds(1000);
constexpr std::uint32_t kMaxPage = 1000;
constexpr auto kReplayTime = std::chrono::seconds(30);
constexpr std::size_t kMaxStates = 10000;
constexpr std::size_t kMaxStatesBytes = 16u << 20;

int http_status(es::Code code) {
  switch (code) {
    case es::Code::kInvalidArgument:
      return 400;
    case es::Code::kPermissionDenied:
      return 403;
    case es::Code::kNotFound:
      return 404;
    case es::Code::kWrongExpectedVersion:
    case es::Code::kDuplicateId:
    case es::Code::kNotPrimary:
      return 409;
    case es::Code::kStreamDeleted:
      return 410;
    case es::Code::kDiskFull:
      return 507;
    case es::Code::kUnavailable:
    case es::Code::kBusy:
      return 503;
    default:
      return 500;
  }
}

void reply_json(httplib::Response& res, int status, const std::string& json) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(json + "\n", "application/json");
}

void reply_error(httplib::Response& res, int status, std::string_view code,
                 std::string_view message, const std::string& extra = {}) {
  std::string out = "{\"error\":";
  es::append_json_string(out, message);
  out += ",\"code\":";
  es::append_json_string(out, code);
  out += extra + "}";
  reply_json(res, status, out);
}

void reply_status(httplib::Response& res, const es::Status& s) {
  std::string extra;
  if (s.code() == es::Code::kWrongExpectedVersion)
    extra = ",\"current_version\":" +
            (s.actual_version() ? std::to_string(*s.actual_version()) : std::string("null"));
  reply_error(res, http_status(s.code()), es::code_name(s.code()), s.message(), extra);
}

// A query parameter that must be a whole number: nullopt when absent; an
// answered 400 (and false) when it is not one.
bool number_param(const httplib::Request& req, const char* name, std::optional<std::uint64_t>& out,
                  httplib::Response& res) {
  if (!req.has_param(name)) return true;
  const std::string v = req.get_param_value(name);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
    reply_error(res, 400, "invalid-argument",
                fmt::format("{}: \"{}\" is not a whole number", name, v));
    return false;
  }
  out = n;
  return true;
}

// limit (default `fallback`, at most kMaxPage) and direction.
bool page_params(const httplib::Request& req, httplib::Response& res, std::uint32_t fallback,
                 es::ReadRequest& rq) {
  std::optional<std::uint64_t> limit, from;
  if (!number_param(req, "limit", limit, res) || !number_param(req, "from", from, res))
    return false;
  if (limit && (*limit == 0 || *limit > kMaxPage)) {
    reply_error(res, 400, "invalid-argument",
                fmt::format("limit: {} is not between 1 and {}", *limit, kMaxPage));
    return false;
  }
  rq.limit = limit ? static_cast<std::uint32_t>(*limit) : fallback;
  const std::string direction =
      req.has_param("direction") ? req.get_param_value("direction") : "forward";
  if (direction != "forward" && direction != "backward") {
    reply_error(res, 400, "invalid-argument",
                fmt::format("direction: \"{}\" is neither forward nor backward", direction));
    return false;
  }
  rq.backwards = direction == "backward";
  if (from) {
    rq.from = *from;
  } else if (rq.backwards) {
    rq.from_end = true;
  } else {
    rq.from = rq.stream.empty() ? 1 : 0;
  }
  return true;
}

std::string events_array(const std::vector<es::RecordedEvent>& events) {
  std::string out = "[";
  for (const auto& e : events) {
    if (out.size() > 1) out += ',';
    out += es::view::event_line(e, false);
  }
  return out + "]";
}

// Where the next page starts, or null at the end.
std::string next_json(const es::ReadResult& r, const es::ReadRequest& rq) {
  if (r.end || (rq.backwards && r.next == 0 && !rq.stream.empty() && r.events.empty()))
    return "null";
  return std::to_string(r.next);
}

std::string projection_json(const es::protocol::ProjectionInfo& p) {
  es::view::ObjectWriter w(false);
  w.field("name", p.name)
      .field("status", p.status)
      .field("position", p.position)
      .field("head", p.head)
      .field("lag", p.head > p.position ? p.head - p.position : 0)
      .field("partitions", p.partitions)
      .field("events_per_s", p.events_per_s);
  if (!p.error.empty()) w.field("error", p.error).field("error_position", p.error_position);
  if (!p.link.empty()) w.field("link", p.link);
  return w.str();
}

// A projection's states as the API gives them: `states` holds the
// partition lines, comma-separated.
std::string states_json(const std::string& name, es::Position position, const std::string& states,
                        bool more) {
  std::string out = "{\"projection\":";
  es::append_json_string(out, name);
  out += ",\"position\":" + std::to_string(position) + ",\"states\":[" + states + "]";
  return out + ",\"more\":" + (more ? "true" : "false") + "}";
}

// How a node comes back after a stop, from what it said of itself.
std::string restart_hint(const es::protocol::StatusReply& s) {
  std::string cmd =
      fmt::format("esd --data {} --listen {} --publish {}", s.data, s.listen, s.publish);
  if (s.role == "replica" && !s.primary.empty()) cmd += " --role replica --follow " + s.primary;
  if (s.role == "read" && !s.source.empty()) cmd += " --project-from " + s.source;
  return "under systemd: systemctl start esd (a clean stop is not restarted); under "
         "Kubernetes: its pod restarts it; by hand: " +
         cmd;
}

// A down node's last report to a node that answers (its primary's view).
const es::protocol::ReplicaInfo* last_report(const std::vector<es::view::NodeView>& nodes,
                                             const std::string& endpoint) {
  for (const auto& n : nodes) {
    if (!n.up) continue;
    for (const auto& r : n.status.replicas)
      if (r.listen == endpoint) return &r;
  }
  return nullptr;
}

es::Position primary_head(const std::vector<es::view::NodeView>& nodes) {
  for (const auto& n : nodes)
    if (n.up && n.status.role == "primary") return n.status.head;
  return 0;
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string local_endpoint(const std::string& listen) {
  for (const auto& [wild, local] :
       {std::pair<std::string, std::string>{"tcp://0.0.0.0:", "tcp://127.0.0.1:"},
        {"tcp://*:", "tcp://127.0.0.1:"},
        {"tcp://[::]:", "tcp://[::1]:"}}) {
    if (listen.rfind(wild, 0) == 0) return local + listen.substr(wild.size());
  }
  return listen;
}

es::Result<std::string> admin_token(const std::string& file) {
  if (file.empty()) {
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    std::string token(2 * sizeof raw + 1, '\0');
    sodium_bin2hex(token.data(), token.size(), raw, sizeof raw);
    token.pop_back();
    return token;
  }
  std::ifstream in(file);
  std::string token;
  if (!in)
    return es::Status::invalid("--http-token-file " + file + ": cannot read it (" +
                               std::strerror(errno) + ")");
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < 16)
    return es::Status::invalid("--http-token-file " + file +
                               ": its first line, the admin token, must have at least 16 "
                               "characters (it has " +
                               std::to_string(token.size()) + ")");
  return token;
}

es::Status write_token_file(const std::string& data_dir, const std::string& token) {
  return es::write_whole_file(data_dir + "/" + kTokenFile, token + "\n", 0600);
}

es::Client Dashboard::client(const std::string& endpoint) const {
  return es::Client(endpoint, endpoint == config_.node ? config_.client : config_.peers);
}

bool Dashboard::host_allowed(const std::string& host) const {
  const std::string port = ":" + std::to_string(config_.port);
  if (config_.loopback) {
    for (const char* name : {"127.0.0.1", "localhost", "[::1]"})
      if (host == name + port) return true;
  }
  const bool v6 = config_.host.find(':') != std::string::npos;
  const std::string bound = (v6 ? "[" + config_.host + "]" : config_.host) + port;
  // A wildcard bind answers to any name: the token guards it instead.
  if (config_.host == "0.0.0.0" || config_.host == "::") return true;
  return host == bound;
}

bool Dashboard::token_given(const httplib::Request& req) const {
  const std::string auth = req.get_header_value("Authorization");
  if (auth.rfind("Bearer ", 0) == 0 && constant_time_equal(auth.substr(7), config_.token))
    return true;
  return req.has_param("token") && constant_time_equal(req.get_param_value("token"), config_.token);
}

bool Dashboard::admit(const httplib::Request& req, httplib::Response& res) const {
  const std::string host = req.get_header_value("Host");
  if (!host_allowed(host)) {
    reply_error(res, 403, "forbidden",
                fmt::format("Host \"{}\" is not this listener's address (http://{}:{})", host,
                            config_.host, config_.port));
    return false;
  }
  const std::string origin = req.get_header_value("Origin");
  if (!origin.empty() && origin != "http://" + host) {
    reply_error(res, 403, "forbidden",
                fmt::format("a request from the page of another origin ({})", origin));
    return false;
  }
  const bool change = req.method == "POST";
  if ((change || !config_.loopback) && req.path.rfind("/api/", 0) == 0 && !token_given(req)) {
    reply_error(res, 401, "unauthorized",
                change ? "this needs the admin token (Authorization: Bearer, from DATA/http.token "
                         "or esd --http-token-file)"
                       : "this listener is not on loopback: reading needs the admin token too");
    return false;
  }
  return true;
}

const es::view::NodeView* Dashboard::Nodes::find(const std::string& endpoint) const {
  for (const auto& n : views)
    if (n.endpoint == endpoint) return &n;
  return nullptr;
}

std::shared_ptr<const Dashboard::Nodes> Dashboard::nodes() {
  std::lock_guard lock(nodes_mu_);
  if (nodes_cached_ && Clock::now() - nodes_at_ < kNodesEvery) return nodes_cached_;
  es::ClientOptions options = config_.peers;
  options.timeout = kNodeTimeout;
  auto snapshot = std::make_shared<Nodes>();
  snapshot->views = es::view::collect_nodes({config_.node}, options);
  const auto& nodes = snapshot->views;
  const es::Position head = primary_head(nodes);
  std::string out = "{\"nodes\":[";
  bool first = true;
  for (const auto& n : nodes) {
    std::string line = es::view::node_line(n, false);
    if (n.up && n.status.role != "primary") restart_[n.endpoint] = restart_hint(n.status);
    es::view::ObjectWriter extra(false);
    if (n.up) {
      extra.field("data", n.status.data).field("listen", n.status.listen);
      extra.field("publish", n.status.publish);
    } else {
      // What its primary last heard of it: how far behind it stopped.
      if (const auto* last = last_report(nodes, n.endpoint)) {
        extra.field("last_head", last->head)
            .field("lag_events", last->head < head ? head - last->head : std::uint64_t{0});
      }
      if (auto r = restart_.find(n.endpoint); r != restart_.end())
        extra.field("restart", r->second);
    }
    line = es::view::with_fields(std::move(line), extra);
    if (!first) out += ',';
    first = false;
    out += line;
  }
  out += "],\"time_us\":" + std::to_string(es::now_us()) + "}";
  snapshot->json = std::move(out);
  nodes_cached_ = std::move(snapshot);
  nodes_at_ = Clock::now();
  return nodes_cached_;
}

std::string Dashboard::projection_node(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_param("node")) return config_.node;
  const std::string node = req.get_param_value("node");
  if (node == config_.node || nodes()->find(node) != nullptr) return node;
  reply_error(res, 404, "not-found", "no node " + node + " in this cluster");
  return {};
}

void Dashboard::route(httplib::Server& svr) {
  for (const WebAsset& a : web_assets()) {
    const std::string path = a.path == "/index.html" ? "/" : a.path;
    svr.Get(path, [a](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
      res.set_content(std::string(a.body), a.type);
    });
  }

  svr.Get("/api/status", [this](const httplib::Request&, httplib::Response& res) {
    auto s = client(config_.node).status();
    if (!s.ok()) return reply_status(res, s.status());
    reply_json(res, 200, es::view::status_line(*s, false));
  });

  svr.Get("/api/streams", [this](const httplib::Request& req, httplib::Response& res) {
    std::optional<std::uint64_t> limit;
    if (!number_param(req, "limit", limit, res)) return;
    es::protocol::StreamsRequest rq;
    rq.limit =
        static_cast<std::uint32_t>(std::clamp<std::uint64_t>(limit.value_or(100), 1, kMaxPage));
    if (req.has_param("after")) rq.after = req.get_param_value("after");
    if (req.has_param("prefix")) rq.prefix = req.get_param_value("prefix");
    auto r = client(config_.node).streams(rq);
    if (!r.ok()) return reply_status(res, r.status());
    std::string out = "{\"streams\":[";
    for (std::size_t i = 0; i < r->streams.size(); ++i)
      out += (i ? "," : "") + es::view::stream_line(r->streams[i]);
    out += std::string("],\"more\":") + (r->end ? "false" : "true") + "}";
    reply_json(res, 200, out);
  });

  svr.Get(R"(/api/streams/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    es::ReadRequest rq;
    rq.stream = req.matches[1];
    if (!page_params(req, res, 20, rq)) return;
    auto r = client(config_.node).read(rq);
    if (!r.ok()) return reply_status(res, r.status());
    if (r->events.empty() && !req.has_param("from"))
      return reply_error(res, 404, "not-found", "stream " + rq.stream + " has no events");
    std::string out = "{\"stream\":";
    es::append_json_string(out, rq.stream);
    out += ",\"events\":" + events_array(r->events) + ",\"next\":" + next_json(*r, rq) +
           ",\"head\":" + std::to_string(r->head) + "}";
    reply_json(res, 200, out);
  });

  svr.Get("/api/log", [this](const httplib::Request& req, httplib::Response& res) {
    es::ReadRequest rq;
    if (!page_params(req, res, 50, rq)) return;
    const std::string stream = req.has_param("stream") ? req.get_param_value("stream") : "";
    if (req.has_param("category")) rq.category = req.get_param_value("category");
    if (req.has_param("type")) rq.types.push_back(req.get_param_value("type"));
    auto r = client(config_.node).read(rq);
    if (!r.ok()) return reply_status(res, r.status());
    // The store pages the whole log by position, by category and type; a
    // stream's events are kept from the page (which may then hold fewer
    // than its limit: `next` goes on).
    std::vector<es::RecordedEvent> events;
    for (auto& e : r->events)
      if (stream.empty() || e.stream == stream) events.push_back(std::move(e));
    reply_json(res, 200,
               "{\"events\":" + events_array(events) + ",\"next\":" + next_json(*r, rq) +
                   ",\"head\":" + std::to_string(r->head) + "}");
  });

  svr.Get(R"(/api/events/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    es::ReadRequest rq;
    rq.from = std::stoull(req.matches[1]);
    rq.limit = 1;
    auto r = client(config_.node).read(rq);
    if (!r.ok()) return reply_status(res, r.status());
    if (r->events.empty() || r->events.front().position != rq.from)
      return reply_error(res, 404, "not-found",
                         fmt::format("no event at position {} (the head is {})", rq.from, r->head));
    reply_json(res, 200, es::view::event_line(r->events.front(), false));
  });

  // This node's projections, then those of the other nodes of the cluster
  // (read nodes, replicas), each with its node.
  svr.Get("/api/projections", [this](const httplib::Request&, httplib::Response& res) {
    auto r = client(config_.node).projections(es::protocol::ProjectionQuery{});
    if (!r.ok()) return reply_status(res, r.status());
    std::string out = "{\"projections\":[";
    bool first = true;
    auto add = [&](const es::protocol::ProjectionInfo& p, const std::string& node, bool local) {
      es::view::ObjectWriter where(false);
      where.field("node", node).field("local", local);
      out += (first ? "" : ",") + es::view::with_fields(projection_json(p), where);
      first = false;
    };
    for (const auto& p : r->projections) add(p, config_.node, true);
    for (const auto& n : nodes()->views) {
      if (!n.up || n.endpoint == config_.node || n.status.listen == config_.node) continue;
      for (const auto& p : n.projections) add(p, n.endpoint, false);
    }
    reply_json(res, 200, out + "]}");
  });

  svr.Get(R"(/api/projections/([^/]+)/states)", [this](const httplib::Request& req,
                                                       httplib::Response& res) {
    std::optional<std::uint64_t> at;
    if (!number_param(req, "at", at, res)) return;
    const std::string node = projection_node(req, res);
    if (node.empty()) return;
    if (at)
      return states_at(node, req.matches[1], *at,
                       req.has_param("key") ? req.get_param_value("key") : "", res);
    es::protocol::ProjectionStateRequest rq;
    rq.name = req.matches[1];
    rq.limit = kMaxPage;
    if (req.has_param("key")) rq.has_key = true, rq.key = req.get_param_value("key");
    if (req.has_param("after")) rq.after = req.get_param_value("after");
    auto r = client(node).projection_state(rq);
    if (!r.ok()) return reply_status(res, r.status());
    std::string states;
    for (const auto& part : r->partitions)
      states += (states.empty() ? "" : ",") + es::view::partition_line(part.key, part.state);
    reply_json(res, 200, states_json(rq.name, r->position, states, !r->end));
  });

  svr.Get("/api/nodes", [this](const httplib::Request&, httplib::Response& res) {
    reply_json(res, 200, nodes()->json);
  });

  // The nodes' heads and projections' positions now (not the view of up
  // to a second ago): what the page polls after an append, to see when each
  // node has it. The nodes asked are those of the last view.
  svr.Get("/api/heads", [this](const httplib::Request&, httplib::Response& res) {
    const auto known = nodes();
    es::ClientOptions options = config_.peers;
    options.timeout = kNodeTimeout;
    std::vector<std::future<es::view::NodeView>> asked;
    for (const auto& n : known->views)
      asked.push_back(std::async(std::launch::async, [&options, endpoint = n.endpoint] {
        return es::view::ask_node(endpoint, options);
      }));
    std::string out = "{\"nodes\":[";
    for (std::size_t i = 0; i < asked.size(); ++i) {
      es::view::NodeView v = asked[i].get();
      if (!v.up) v.role = known->views[i].role;
      out += (i ? "," : "") + es::view::node_line(v, false);
    }
    reply_json(res, 200, out + "],\"time_us\":" + std::to_string(es::now_us()) + "}");
  });

  svr.Post("/api/append", [this](const httplib::Request& req, httplib::Response& res) {
    auto fields = es::parse_event_fields(req.body);
    if (!fields.ok()) return reply_status(res, fields.status());
    if (!fields->unknown_keys.empty())
      return reply_error(res, 400, "invalid-argument",
                         "unknown field \"" + fields->unknown_keys.front() +
                             "\" (an event has stream, type, data, metadata, id and expect)");
    for (const auto& [name, value] :
         {std::pair{"stream", &fields->stream}, {"type", &fields->type}})
      if (!*value || (*value)->empty())
        return reply_error(res, 400, "invalid-argument", std::string(name) + " is missing");
    es::ProposedEvent e;
    e.stream = *fields->stream;
    e.type = *fields->type;
    e.data = fields->data.value_or("{}");
    e.metadata = fields->metadata.value_or("");
    if (fields->id) {
      auto id = es::Uuid::parse(*fields->id);
      if (!id.ok()) return reply_status(res, id.status());
      e.id = *id;
    } else {
      e.id = es::Uuid::v7();
    }
    es::AppendRequest rq;
    if (fields->expect) {
      auto expected = es::ExpectedVersion::parse(*fields->expect == "no_stream" ? "no-stream"
                                                                                : *fields->expect);
      if (!expected.ok()) return reply_status(res, expected.status());
      rq.expectations.push_back({e.stream, *expected});
    }
    rq.events.push_back(std::move(e));
    auto r = client(config_.node).append(rq);
    if (!r.ok()) return reply_status(res, r.status());
    reply_json(res, 200, es::view::written_line(r->streams.front(), false));
  });

  svr.Post("/api/stop", [this](const httplib::Request& req, httplib::Response& res) {
    rapidjson::Document doc;
    doc.Parse(req.body.data(), req.body.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("node") || !doc["node"].IsString())
      return reply_error(res, 400, "invalid-argument",
                         "the body must be {\"node\": \"ENDPOINT\"}, the node to stop");
    const std::string node = doc["node"].GetString();
    // Only a node of this cluster: the page cannot be made to reach elsewhere.
    if (nodes()->find(node) == nullptr)
      return reply_error(res, 404, "not-found", "no node " + node + " in this cluster");
    auto status = client(node).status();
    auto stopped = client(node).stop();
    if (!stopped.ok()) return reply_status(res, stopped.status());
    std::string restart = status.ok() ? restart_hint(*status) : std::string();
    {
      std::lock_guard lock(nodes_mu_);
      if (!restart.empty()) restart_[node] = restart;
      nodes_cached_.reset();  // the next view shows it stopped
    }
    spdlog::info("stopping {}: asked from the dashboard by {}", node, req.remote_addr);
    es::view::ObjectWriter w(false);
    w.field("node", node).field("stopped_at", stopped->head).field("restart", restart);
    reply_json(res, 200, w.str());
  });

  svr.Get("/api/live",
          [this](const httplib::Request& req, httplib::Response& res) { live(req, res); });
}

// Another node's projection is folded over this node's log: the same log,
// as far as this node has it (a read node projects from its primary, a
// replica copies it).
void Dashboard::states_at(const std::string& node, const std::string& name, es::Position at,
                          const std::string& key, httplib::Response& res) {
  es::protocol::ProjectionQuery query;
  query.name = name;
  auto list = client(node).projections(query);
  if (!list.ok()) return reply_status(res, list.status());
  if (list->projections.empty())
    return reply_error(res, 404, "not-found", "no projection " + name + " on " + node);
  if (replays_.fetch_add(1) >= kMaxReplays) {
    replays_.fetch_sub(1);
    return reply_error(
        res, 503, "busy",
        fmt::format("{} states at a position are being folded already", kMaxReplays));
  }
  struct Done {
    std::atomic<int>& n;
    ~Done() { n.fetch_sub(1); }
  } done{replays_};
  WorkerLaunch launch;
  launch.mode = "at";
  launch.name = name;
  launch.endpoint = config_.log;
  launch.key_file = config_.key_file;
  launch.server_key = config_.server_key;
  launch.limits = config_.limits;
  launch.keys = {{"at", std::to_string(at)}, {"partition", key}};
  auto worker = launch_worker(launch, list->projections.front().source);
  if (!worker.ok()) return reply_status(res, worker.status());
  // Bounded: a replay of a long log, or of a slow projection, is cut off
  // here (es state --at has no such limit), and so is a huge answer.
  const auto deadline = Clock::now() + kReplayTime;
  std::string states, reported;
  std::size_t count = 0;
  bool more = false, ended = false, killed = false;
  es::read_reports(
      worker->reports,
      [&](const std::string& line) {
        if (line.rfind("S ", 0) == 0) {
          if (count >= kMaxStates || states.size() + line.size() > kMaxStatesBytes) {
            more = true;
            return;
          }
          states += (count++ ? "," : "") + line.substr(2);
        } else if (line.rfind("E ", 0) == 0) {
          ended = true;
        } else if (line.rfind("F ", 0) == 0) {
          reported = es::parse_failure_report(line).second;
        }
      },
      [&] {
        // (esd stopping does not wait for a replay either)
        if (!killed && (Clock::now() > deadline || closing_)) {
          ::kill(worker->pid, SIGKILL);
          killed = true;
        }
      });
  const int status = es::wait_exit(worker->pid);
  if (killed && closing_) return reply_error(res, 503, "unavailable", "esd is stopping");
  if (killed)
    return reply_error(res, 503, "busy",
                       fmt::format("folding projection {} up to position {} took more than {} s "
                                   "(es state {} --at {} has no limit)",
                                   name, at, kReplayTime.count(), name, at));
  if (!ended || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return reply_error(res, 422, "projection-failed", es::why_worker_ended(name, status, reported));
  reply_json(res, 200, states_json(name, at, states, more));
}

void Dashboard::close() {
  std::lock_guard lock(live_mu_);
  closing_ = true;
  for (auto* stop : live_stops_) *stop = true;
}

void Dashboard::live(const httplib::Request& req, httplib::Response& res) {
  if (live_.fetch_add(1) >= kMaxLive) {
    live_.fetch_sub(1);
    return reply_error(
        res, 503, "busy",
        fmt::format("{} live views are open already (the page polls instead)", kMaxLive));
  }
  es::SubscriptionFilter filter;
  if (req.has_param("stream")) filter.stream = req.get_param_value("stream");
  if (req.has_param("category")) filter.category = req.get_param_value("category");
  if (req.has_param("type")) filter.types.push_back(req.get_param_value("type"));
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider(
      "text/event-stream",
      [this, filter](std::size_t, httplib::DataSink& sink) {
        std::atomic<bool> stop{false};
        {
          std::lock_guard lock(live_mu_);
          if (closing_) return false;
          live_stops_.insert(&stop);
        }
        struct Unregister {
          Dashboard* d;
          std::atomic<bool>* stop;
          ~Unregister() {
            std::lock_guard lock(d->live_mu_);
            d->live_stops_.erase(stop);
          }
        } unregister{this, &stop};
        auto send = [&](std::string_view event, const std::string& data) {
          if (closing_ || !sink.is_writable()) return stop = true, false;
          std::string frame = fmt::format("event: {}\ndata: {}\n\n", event, data);
          if (!sink.write(frame.data(), frame.size())) stop = true;
          return !stop;
        };
        auto last_view = Clock::now() - kNodesEvery;
        auto views = [&] {
          if (Clock::now() - last_view < kNodesEvery) return true;
          last_view = Clock::now();
          auto s = client(config_.node).status();
          if (s.ok() && !send("status", es::view::status_line(*s, false))) return false;
          return send("nodes", nodes()->json);
        };
        es::Client node = client(config_.node);
        es::SubscriptionOptions options;
        options.filter = filter;
        options.from_end = true;
        options.on_tick = [&](es::Subscription&) -> es::Status {
          if (closing_ || !views()) stop = true;
          return {};
        };
        es::Subscription sub(node, options);
        views();
        const es::Status ended = sub.run(
            [&](const es::RecordedEvent& e) {
              return send("event", es::view::event_line(e, false)) ? es::Delivery::kContinue
                                                                   : es::Delivery::kRefused;
            },
            stop);
        if (!ended.ok() && !stop) {
          std::string why = "{\"error\":";
          es::append_json_string(why, ended.message());
          send("error", why + "}");
        }
        sink.done();
        return false;
      },
      [this](bool) { live_.fetch_sub(1); });
}

}  // namespace esd

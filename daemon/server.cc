#include "server.h"

#include <cstdlib>
#include <type_traits>

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>
#include <zmq.h>

#include "es/endpoint.h"
#include "es/json.h"
#include "es/sealed.h"
#include "es/stream_rules.h"

#include "removals.h"

#include <sys/statvfs.h>

namespace esd {

using es::Code;
using es::Role;
using es::Status;
using es::protocol::Kind;
namespace protocol = es::protocol;

namespace {

constexpr int kMaxRequestsPerTurn = 1000;
constexpr std::chrono::milliseconds kMaxTurn(20);
// Per connection (see bind() and Admission::default_max_clients): our
// clients have at most 2 requests out (a read and the next one ahead); with
// room for 1 the one ahead waited, and a replica caught up 18% slower.
constexpr int kRequestsQueued = 2;
constexpr int kRepliesQueued = 4;
constexpr std::size_t kPublishChunkEvents = 1000;
// A published frame holds at most this much, so that publish_hwm frames per
// subscriber stay within a known bound (1000 x 256 KiB = 256 MiB at worst).
constexpr std::size_t kPublishChunkBytes = 256u << 10;
const char* const kCompletionsEndpoint = "inproc://esd-completions";
const char* const kRouterMonitorEndpoint = "inproc://esd-router-monitor";
const char* const kPubMonitorEndpoint = "inproc://esd-pub-monitor";

std::string_view view(const zmq::message_t& m) {
  return {static_cast<const char*>(m.data()), m.size()};
}

// Canonicalizes data and metadata in place: nothing from the network is
// stored before it parsed, within limits. What es clients send is canonical
// already: it is checked in one pass and kept as it came.
Status canonicalize(es::AppendRequest& request) {
  for (auto& e : request.events) {
    if (e.data.size() > es::kMaxDataBytes || !es::is_canonical_json(e.data)) {
      auto data =
          es::canonical_json(e.data, "data of event " + e.id.to_string(), es::kMaxDataBytes);
      if (!data.ok()) return data.status();
      e.data = std::move(data).value();
    }
    if (!e.metadata.empty() && (e.metadata.size() > es::kMaxMetadataBytes || e.metadata == "{}" ||
                                !es::is_canonical_json(e.metadata, es::JsonShape::kObject))) {
      auto meta = es::canonical_json(e.metadata, "metadata of event " + e.id.to_string(),
                                     es::kMaxMetadataBytes, es::JsonShape::kObject);
      if (!meta.ok()) return meta.status();
      e.metadata = *meta == "{}" ? std::string() : std::move(meta).value();
    }
  }
  return es::Store::validate(request);
}

// The "$correlationId"s of an append's events (es append adds one to each;
// esd never adds or changes one), for --log-level debug: the first, and how
// many others differ from it.
std::string correlation_of(const es::AppendRequest& request) {
  std::string first;
  std::size_t others = 0;
  for (const auto& e : request.events) {
    if (e.metadata.find("\"$correlationId\"") == std::string::npos) continue;
    rapidjson::Document doc;
    doc.Parse(e.metadata.data(), e.metadata.size());
    if (doc.HasParseError() || !doc.IsObject()) continue;
    auto it = doc.FindMember("$correlationId");
    if (it == doc.MemberEnd() || !it->value.IsString()) continue;
    std::string id(it->value.GetString(), it->value.GetStringLength());
    if (first.empty()) {
      first = std::move(id);
    } else if (id != first) {
      ++others;
    }
  }
  if (first.empty() || others == 0) return first;
  return first + " and " + std::to_string(others) + " other(s)";
}

}  // namespace

std::string peer_address(zmq::message_t& m) {
  try {
    const char* peer = m.gets("Peer-Address");
    return peer != nullptr ? peer : "";
  } catch (const zmq::error_t&) {
    return "";  // not over TCP
  }
}

std::string default_publish_endpoint(const std::string& listen) {
  const std::string tcp = "tcp://";
  if (listen.rfind(tcp, 0) == 0) {
    auto colon = listen.rfind(':');
    std::string port = listen.substr(colon + 1);
    if (port == "*" || port == "0") return listen.substr(0, colon + 1) + "*";
    try {
      return listen.substr(0, colon + 1) + std::to_string(std::stoi(port) + 1);
    } catch (const std::exception&) {
      return listen + "-pub";
    }
  }
  return listen + ".pub";
}

Server::Server(es::Store& store, es::ProjectionStore& projections, ServerOptions options)
    : store_(store),
      projection_store_(projections),
      options_(std::move(options)),
      own_metrics_(options_.metrics != nullptr ? nullptr : std::make_unique<NodeMetrics>()),
      metrics_(options_.metrics != nullptr ? *options_.metrics : *own_metrics_),
      ctx_(1),
      router_(ctx_, zmq::socket_type::router),
      pub_(ctx_, zmq::socket_type::pub),
      completions_in_(ctx_, zmq::socket_type::pair),
      completions_out_(ctx_, zmq::socket_type::pair),
      router_monitor_(ctx_, zmq::socket_type::pair),
      pub_monitor_(ctx_, zmq::socket_type::pair),
      burst_budget_(es::Writer::Options{}.max_group_events, store.max_group_bytes()),
      read_node_(!options_.project_from.empty() && options_.role != "replica"),
      started_(std::chrono::steady_clock::now()) {
  keyring_ = options_.keyring != nullptr ? options_.keyring : std::make_shared<Keyring>();
  if (options_.publish.empty()) options_.publish = default_publish_endpoint(options_.listen);
  name_request_kinds();
}

Server::~Server() {
  if (writer_) writer_->close();
}

Status Server::bind() {
  published_head_ = store_.head();  // everything stored before start counts as published
  if (keyring_->enabled()) {
    auto owners = CheckpointOwners::load(options_.data_dir + "/checkpoint-owners");
    if (!owners.ok()) return owners.status();
    checkpoint_owners_ = std::move(owners).value();
    spdlog::info("CurveZMQ: this node's public key is {}; {} keys allowed ({})",
                 keyring_->node().public_key, keyring_->size(),
                 options_.settings.text("allow").empty() ? "no --allow: only this node's own"
                                                         : options_.settings.text("allow"));
  }
  try {
    for (auto* s :
         {&router_, &pub_, &completions_in_, &completions_out_, &router_monitor_, &pub_monitor_}) {
      s->set(zmq::sockopt::linger, 0);
    }
    admission_ = std::make_unique<Admission>(ctx_, options_.admission, keyring_, &metrics_);
    Admission::guard(router_);
    Admission::guard(pub_);
    if (keyring_->enabled()) {
      es::set_curve_server(router_, keyring_->node());
      es::set_curve_server(pub_, keyring_->node());
    }
    router_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(es::kMaxFrameBytes));
    // Per connection: this many requests wait to be read (past them, ZeroMQ
    // stops reading that connection) and this many replies wait to be taken
    // (past them, replies to a client that does not read are dropped); each
    // is at most a frame (kMaxFrameBytes) or a reply (~kMaxReplyBytes).
    router_.set(zmq::sockopt::sndhwm, kRepliesQueued);
    router_.set(zmq::sockopt::rcvhwm, kRequestsQueued);
    // A subscriber sends only subscriptions, a few bytes each.
    pub_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(64 << 10));
    pub_.set(zmq::sockopt::sndhwm, options_.publish_hwm);
    zmq_socket_monitor(router_.handle(), kRouterMonitorEndpoint,
                       ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | Admission::kEvents);
    zmq_socket_monitor(pub_.handle(), kPubMonitorEndpoint,
                       ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | Admission::kEvents);
    // (The connection cap counts on every event: none is dropped.)
    router_monitor_.set(zmq::sockopt::rcvhwm, 0);
    pub_monitor_.set(zmq::sockopt::rcvhwm, 0);
    router_monitor_.connect(kRouterMonitorEndpoint);
    pub_monitor_.connect(kPubMonitorEndpoint);
    completions_in_.bind(kCompletionsEndpoint);
    completions_out_.connect(kCompletionsEndpoint);
  } catch (const zmq::error_t& e) {
    return Status::io_error(std::string("cannot set up sockets: ") + e.what());
  }
  try {
    router_.bind(options_.listen);
    bound_listen_ = router_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::unavailable("cannot listen on " + options_.listen + ": " + e.what());
  }
  try {
    pub_.bind(options_.publish);
    bound_publish_ = pub_.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::unavailable("cannot publish on " + options_.publish + ": " + e.what());
  }
  spdlog::info("listening on {}, publishing on {}", bound_listen_, bound_publish_);
  const bool elsewhere = !options_.project_from.empty();
  ProjectionHost::Options projection_options = options_.projections;
  projection_options.curve = keyring_->client(elsewhere);
  projection_options.key_file = keyring_->key_file();
  projections_ = std::make_unique<ProjectionHost>(projection_store_,
                                                  elsewhere ? options_.project_from : bound_listen_,
                                                  elsewhere, projection_options);
  if (elsewhere && !read_node_)
    spdlog::info("projections read the log of {}", options_.project_from);
  if (read_node_)
    source_link_ = std::make_unique<SourceLink>(
        SourceLink::Options{options_.project_from, bound_listen_, keyring_->client(true),
                            options_.data_dir + "/source-removals"});
  try {
    backup_ = std::make_unique<BackupWorker>(
        ctx_, store_, projection_store_,
        es::store::BackupOptions{options_.project_from.empty()
                                     ? es::store::ProjectionsRead::kThisLog
                                     : es::store::ProjectionsRead::kAnotherLog,
                                 options_.backup_pause});
  } catch (const zmq::error_t& e) {
    return Status::io_error(std::string("cannot set up the backup worker: ") + e.what());
  }
  writer_ =
      std::make_unique<es::Writer>(store_, es::Writer::Options{}, [this](es::GroupOutcome&& o) {
        auto* outcome = new es::GroupOutcome(std::move(o));
        completions_out_.send(zmq::buffer(&outcome, sizeof outcome));  // the writer thread's socket
      });
  if (options_.role == "replica") {
    follower_ = std::make_unique<Follower>(
        store_,
        FollowerOptions{options_.follow, options_.follow_publish, bound_listen_,
                        keyring_->client(true), options_.subject_keys},
        [this](std::vector<es::RecordedEvent> events, std::uint64_t tag) {
          return writer_->submit_replicated(std::move(events), tag);
        });
  }
  return {};
}

ExitReason Server::run(const std::string& signals_endpoint) {
  zmq::socket_t signals(ctx_, zmq::socket_type::pair);
  signals.set(zmq::sockopt::linger, 0);
  signals.bind(signals_endpoint);
  auto next_heartbeat = std::chrono::steady_clock::now() + options_.heartbeat;
  int turns_since_reader_check = 0;
  if (Status s = projections_->start_all(); !s.ok())
    spdlog::error("projections not started: {}", s.message());
  if (follower_) follower_->start();
  if (source_link_) source_link_->start();
  bool diverged = false;
  // Recovered, bound, and about to poll: from here requests are served.
  notifier_.ready(role(), store_.head());
  report_health();
  while (!stopping_ && !storage_failed_ && !diverged) {
    metrics_.tick();
    zmq::pollitem_t items[] = {{completions_in_.handle(), 0, ZMQ_POLLIN, 0},
                               {signals.handle(), 0, ZMQ_POLLIN, 0},
                               {router_monitor_.handle(), 0, ZMQ_POLLIN, 0},
                               {pub_monitor_.handle(), 0, ZMQ_POLLIN, 0},
                               {router_.handle(), 0, ZMQ_POLLIN, 0},
                               {backup_->done_socket().handle(), 0, ZMQ_POLLIN, 0}};
    // Woken for the heartbeat, or sooner for the watchdog's keep-alive; at
    // most a second, so that /livez sees the loop turn however long the
    // heartbeat is.
    auto wait = std::min(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::min(next_heartbeat, notifier_.next_due()) - std::chrono::steady_clock::now()),
        std::chrono::milliseconds(1000));
    try {
      zmq::poll(items, 6, std::max(wait, std::chrono::milliseconds(0)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) spdlog::error("poll: {}", e.what());
      continue;
    }
    if (items[0].revents & ZMQ_POLLIN) drain_completions(false);
    if (items[1].revents & ZMQ_POLLIN) {
      zmq::message_t m;
      (void)signals.recv(m, zmq::recv_flags::dontwait);
      if (view(m) == kReloadSignal) {
        reload();
      } else {
        spdlog::info("stopping: {}", view(m));
        stopping_ = true;
      }
    }
    if (items[5].revents & ZMQ_POLLIN) finish_backup();
    if (items[2].revents & ZMQ_POLLIN) handle_monitor(router_monitor_, &clients_);
    if (items[3].revents & ZMQ_POLLIN) handle_monitor(pub_monitor_, &subscribers_);
    if ((items[4].revents & ZMQ_POLLIN) && !stopping_) {
      // A turn ends after kMaxRequestsPerTurn requests or kMaxTurn, so that
      // clients asking for one large read after another never keep the loop
      // from signals, heartbeats and the other sockets.
      const auto turn_ends = std::chrono::steady_clock::now() + kMaxTurn;
      for (int i = 0; i < kMaxRequestsPerTurn && !stopping_ &&
                      (i == 0 || std::chrono::steady_clock::now() < turn_ends);
           ++i) {
        zmq::message_t identity, payload;
        if (!router_.recv(identity, zmq::recv_flags::dontwait)) break;
        bool one_frame =
            identity.more() && router_.recv(payload, zmq::recv_flags::dontwait) && !payload.more();
        if (!one_frame) {
          // A peer that sends several frames gets one error, then its
          // remaining frames are discarded.
          zmq::message_t rest;
          while (router_.get(zmq::sockopt::rcvmore))
            (void)router_.recv(rest, zmq::recv_flags::dontwait);
          reply_error(std::string(view(identity)), 0,
                      Status::protocol("a request is exactly one frame"));
          continue;
        }
        handle_request(identity, payload);
      }
      commit_burst();
    }
    diverged = follower_ && follower_->diverged();
    if (source_link_) rebuild_after_source_removals();
    if (Status failed = store_.failure(); !failed.ok() && !storage_failed_) {
      // The applier failed while no append was waiting to hear it.
      spdlog::critical("storage failed, exiting: {}", failed.to_string());
      storage_failed_ = true;
    }
    if (std::chrono::steady_clock::now() >= next_heartbeat) {
      publish_heartbeat();
      report_health();
      next_heartbeat = std::chrono::steady_clock::now() + options_.heartbeat;
      if (++turns_since_reader_check >= 60) {
        turns_since_reader_check = 0;
        if (int dead = store_.check_readers(); dead > 0)
          spdlog::warn("cleared {} stale reader slots", dead);
      }
    }
    notifier_.tick(role(), store_.head());
  }
  notifier_.stopping(storage_failed_ ? "storage failed"
                     : diverged      ? "the primary's history differs from this replica's"
                                     : "asked to stop");
  metrics_.stopping();
  // The follower first (its batch in flight is answered below or dropped:
  // it resumes from the store's head), then projections: their runners'
  // last commits need nothing from here.
  if (follower_) follower_->stop();
  if (source_link_) source_link_->stop();
  projections_->close();
  // Commit and answer what is queued, then say goodbye.
  commit_burst();
  if (backup_->running()) {
    spdlog::info("waiting for the backup into {} to end", backup_->dir());
    finish_backup();
  }
  writer_->close();
  drain_completions(false);
  protocol::HeartbeatNotice bye{published_head_, role()};
  pub_.send(zmq::buffer(protocol::encode(Kind::kStopping, 0, bye)), zmq::send_flags::dontwait);
  if (stop_requested_by_client_) {
    metrics_.count_request(Kind::kStop, Code::kOk);
    reply(stop_identity_,
          protocol::encode(Kind::kStopOk, stop_request_id_, protocol::StopReply{store_.head()}));
  }
  // Give the last replies and notices a moment to leave.
  router_.set(zmq::sockopt::linger, 2000);
  pub_.set(zmq::sockopt::linger, 2000);
  if (storage_failed_) return ExitReason::kStorageFailed;
  if (diverged) return ExitReason::kDiverged;
  spdlog::info("stopped at position {}", store_.head());
  return ExitReason::kStopped;
}

void Server::handle_monitor(zmq::socket_t& mon, std::uint64_t* count) {
  zmq::message_t event, address;
  while (mon.recv(event, zmq::recv_flags::dontwait)) {
    if (event.more()) (void)mon.recv(address, zmq::recv_flags::dontwait);
    if (event.size() < 6) continue;
    std::uint16_t id = 0;
    std::uint32_t value = 0;
    std::memcpy(&id, event.data(), 2);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, 4);
    if (id == ZMQ_EVENT_ACCEPTED) ++*count;
    if (id == ZMQ_EVENT_DISCONNECTED && *count > 0) --*count;
    admission_->saw(id, value, address.to_string());
  }
  metrics_.clients.set(static_cast<double>(clients_));
  metrics_.subscribers.set(static_cast<double>(subscribers_));
}

std::string Server::who(const Request& rq) {
  std::string peer = peer_address(rq.payload);
  if (peer.empty()) peer = "a local client";
  if (rq.key != nullptr) peer += " (key " + rq.key->name + ")";
  return peer;
}

std::string Server::logged_key(const std::string& identity, std::uint64_t request_id) {
  return std::to_string(request_id) + "/" + identity;
}

// The outcome of a request --log-level debug shows (see kRoutes).
void Server::log_outcome(const std::string& identity, const std::string& frame) {
  auto header = protocol::decode_header(frame);
  if (!header.ok()) return;
  auto it = logged_.find(logged_key(identity, header->request_id));
  if (it == logged_.end()) return;
  std::string outcome = "ok";
  if (header->kind == Kind::kError) {
    auto error = protocol::decode_body<protocol::ErrorReply>(frame);
    outcome = error.ok() ? "refused: " + error->message : "refused";
  }
  spdlog::debug("{} from {}: {} (request #{}{})", it->second.name, it->second.peer, outcome,
                header->request_id,
                it->second.correlation.empty() ? "" : ", correlation " + it->second.correlation);
  logged_.erase(it);
}

void Server::reply(const std::string& identity, const std::string& frame) {
  if (!logged_.empty()) log_outcome(identity, frame);
  try {
    router_.send(zmq::buffer(identity), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    router_.send(zmq::buffer(frame), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    metrics_.reply_drops.add();
    spdlog::warn("reply dropped: {}", e.what());
  }
}

void Server::reply_error(const std::string& identity, std::uint64_t request_id, const Status& s) {
  reply(identity, protocol::encode(Kind::kError, request_id, protocol::ErrorReply::from(s)));
}

// The requests esd serves: kind, name (in the log), the role a key needs
// to make it (with keys: permitted(); a new kind cannot be added without
// one), whether only a primary takes it, whether --log-level debug shows
// each one (with its peer and outcome: the requests that change the node,
// but for appends, which show per commit group, and the periodic group
// syncs and replica reports), and the handler, which gets the body decoded
// (with_body) or the bare request. A column for limits goes here too.
const Server::Route Server::kRoutes[] = {
    // kind, name, role (es/curve.h), primary only, logged (debug: peer and outcome), handler
    {Kind::kHello, "hello", Role::kRead, false, false, &Server::on_hello},
    {Kind::kAppend, "append", Role::kWrite, true, false,
     &Server::with_body<es::AppendRequest, &Server::on_append>},
    {Kind::kRead, "read", Role::kRead, false, false,
     &Server::with_body<es::ReadRequest, &Server::on_read>},
    {Kind::kStreams, "streams", Role::kRead, false, false,
     &Server::with_body<protocol::StreamsRequest, &Server::on_streams>},
    {Kind::kStatus, "status", Role::kRead, false, false, &Server::on_status},
    {Kind::kCheckpointGet, "checkpoint get", Role::kRead, false, false,
     &Server::with_body<protocol::CheckpointQuery, &Server::on_checkpoint_get>},
    // A write key moves only the checkpoints it made (check_owner).
    {Kind::kCheckpointSet, "checkpoint set", Role::kWrite, false, true,
     &Server::with_body<es::Checkpoint, &Server::on_checkpoint_set>},
    {Kind::kCheckpointList, "checkpoint list", Role::kRead, false, false,
     &Server::on_checkpoint_list},
    {Kind::kCheckpointRemove, "checkpoint remove", Role::kAdmin, false, true,
     &Server::with_body<protocol::CheckpointRemoveRequest, &Server::on_checkpoint_remove>},
    // A group's slots are the members' that hold their leases (groups.h).
    {Kind::kGroupSync, "group sync", Role::kWrite, false, false,
     &Server::with_body<protocol::GroupSyncRequest, &Server::on_group_sync>},
    {Kind::kProjectionAdd, "projection add", Role::kAdmin, false, true,
     &Server::with_body<protocol::ProjectionAddRequest, &Server::on_projection_add>},
    {Kind::kProjectionControl, "projection control", Role::kAdmin, false, true,
     &Server::with_body<protocol::ProjectionControlRequest, &Server::on_projection_control>},
    {Kind::kProjectionList, "projection list", Role::kRead, false, false,
     &Server::with_body<protocol::ProjectionQuery, &Server::on_projection_list>},
    {Kind::kProjectionState, "projection state", Role::kRead, false, false,
     &Server::with_body<protocol::ProjectionStateRequest, &Server::on_projection_state>},
    {Kind::kReplicaReport, "replica report", Role::kReplica, false, false,
     &Server::with_body<protocol::ReplicaReport, &Server::on_replica_report>},
    {Kind::kPromote, "promote", Role::kAdmin, false, true,
     &Server::with_body<protocol::PromoteRequest, &Server::on_promote>},
    // A replica's copy spares its primary.
    {Kind::kBackup, "backup", Role::kAdmin, false, true,
     &Server::with_body<protocol::BackupRequest, &Server::on_backup>},
    {Kind::kStop, "stop", Role::kAdmin, false, true, &Server::on_stop},
    {Kind::kStreamRules, "stream rules", Role::kAdmin, true, true,
     &Server::with_body<protocol::StreamRulesRequest, &Server::on_stream_rules>},
    {Kind::kForget, "forget", Role::kAdmin, true, true,
     &Server::with_body<protocol::ForgetRequest, &Server::on_forget>},
    {Kind::kSubjectKeys, "subject keys", Role::kReplica, false, false,
     &Server::with_body<protocol::SubjectKeysRequest, &Server::on_subject_keys>},
};

void Server::name_request_kinds() {
  for (const Route& route : kRoutes) metrics_.name_kind(route.kind, route.name);
}

void Server::handle_request(zmq::message_t& identity_msg, zmq::message_t& payload) {
  const std::string identity(view(identity_msg));
  const std::string_view frame = view(payload);
  auto header = protocol::decode_header(frame);
  if (!header.ok()) return reply_error(identity, 0, header.status());
  Request rq{identity, header->request_id, header->kind, frame, payload};
  for (const Route& route : kRoutes) {
    if (route.kind != rq.kind) continue;
    if (keyring_->enabled() && !permitted(rq, route)) return;
    // who() asks ZeroMQ for the peer (an exception over ipc): only when logged.
    if (spdlog::should_log(spdlog::level::trace))
      spdlog::trace("request {} #{} from {} ({} bytes)", route.name, rq.id, who(rq), frame.size());
    if (route.logged && spdlog::should_log(spdlog::level::debug) && logged_.size() < 10'000)
      logged_.emplace(logged_key(identity, rq.id), LoggedRequest{route.name, who(rq), {}});
    if (route.primary_only && role() != std::string_view("primary")) return fail(rq, not_primary());
    return (this->*route.handler)(rq);
  }
  fail(rq,
       Status::protocol("unknown request kind " + std::to_string(static_cast<int>(header->kind))));
}

template <class Body, void (Server::*Handler)(const Server::Request&, Body&&)>
void Server::with_body(const Request& rq) {
  auto body = protocol::decode_body<Body>(rq.frame);
  if (!body.ok()) return fail(rq, body.status());
  (this->*Handler)(rq, std::move(body).value());
}

void Server::fail(const Request& rq, const Status& s) {
  metrics_.count_request(rq.kind, s.code());
  reply_error(rq.identity, rq.id, s);
}

bool Server::permitted(Request& rq, const Route& route) {
  const char* user_id = zmq_msg_gets(rq.payload.handle(), "User-Id");
  auto key = keyring_->find(user_id != nullptr ? user_id : "");
  std::string why;
  if (!key) {
    why = "its key is no longer in the allow-list (esd --allow)";
  } else if (!es::role_covers(key->role, route.role)) {
    why = fmt::format("the key {} has the {} role; {} needs {}", key->name,
                      es::role_name(key->role), route.name, es::role_name(route.role));
  } else {
    request_key_ = std::move(*key);
    rq.key = &request_key_;
    return true;
  }
  if (refused_requests_log_.take())
    spdlog::warn("refused {} from {}: {}", route.name, who(rq), why);
  fail(rq, Status::denied("refused: " + why));
  return false;
}

Status Server::check_owner(const Request& rq, const std::string& name) {
  if (rq.key == nullptr || rq.key->role == Role::kAdmin) return {};
  if (const std::string* owner = checkpoint_owners_.owner(name)) {
    if (*owner == rq.key->public_key) return {};
    const auto other = keyring_->find(*owner);
    return Status::denied(
        fmt::format("the checkpoint {} belongs to the key {}; the key {} "
                    "may move only its own (an admin key moves any)",
                    name, other ? other->name : owner->substr(0, 8), rq.key->name));
  }
  auto existing = store_.checkpoint(name);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return Status::denied("the checkpoint " + name +
                          " was made by an admin or before the node had keys: only an admin "
                          "key may move it");
  }
  return checkpoint_owners_.claim(name, rq.key->public_key);
}

Status Server::not_primary() const {
  if (read_node_) {
    return Status(Code::kNotPrimary,
                  "this node is a read node fed by " + options_.project_from + ": append to it");
  }
  return Status(Code::kNotPrimary,
                "this node is a replica of " + options_.follow + ": append to the primary");
}

template <class Reply>
void Server::answer(const Request& rq, Kind kind, const Reply& r) {
  metrics_.count_request(rq.kind, Code::kOk);
  reply(rq.identity, protocol::encode(kind, rq.id, r));
}

void Server::on_hello(const Request& rq) {
  answer(rq, Kind::kHelloOk,
         protocol::HelloReply{bound_publish_, ES_VERSION, role(), store_.head(),
                              static_cast<std::uint32_t>(options_.heartbeat.count())});
}

void Server::on_append(const Request& rq, es::AppendRequest&& append) {
  // Appends are not in logged_ otherwise (a line per commit group shows
  // them): at debug, each shows with its request id and correlation id.
  if (spdlog::should_log(spdlog::level::debug) && logged_.size() < 10'000) {
    logged_.emplace(logged_key(rq.identity, rq.id),
                    LoggedRequest{"append", who(rq), correlation_of(append)});
  }
  if (Status s = canonicalize(append); !s.ok()) return fail(rq, s);
  for (const auto& e : append.events) {
    if (e.stream == es::kSubjectsStream)
      return fail(rq, Status::invalid("stream " + e.stream + " is written by es forget only"));
    if (!es::is_metadata_stream(e.stream)) continue;
    return fail(rq, Status::invalid("stream " + e.stream + " holds the rules of " +
                                    std::string(es::target_of(e.stream)) +
                                    ": es delete and es retention write it"));
  }
  if (Status s = seal_personal_data(append); !s.ok()) return fail(rq, s);
  queue_write(PendingReply{rq.identity, rq.id, std::nullopt}, std::move(append));
}

Status Server::seal_personal_data(es::AppendRequest& append) {
  for (std::size_t i = 0; i < append.events.size(); ++i) {
    es::ProposedEvent& e = append.events[i];
    auto subject = es::subject_of(e.metadata);
    if (!subject.ok())
      return Status::invalid("event " + std::to_string(i + 1) + ": " + subject.status().message());
    if (!*subject) continue;
    if (!options_.subject_keys) {
      return Status::invalid("event " + std::to_string(i + 1) + " names the data subject " +
                             **subject +
                             ", and this node keeps no subject keys (esd --subject-keys DIR)");
    }
    auto key = options_.subject_keys->get_or_create(**subject);
    if (!key.ok()) return key.status();
    e.data = es::seal(*key, **subject, e.id, e.data);
  }
  return {};
}

// Sealed data as its readers see it: opened with the subject's key, or
// redacted when the subject was forgotten (or this node lacks its key).
void Server::open_personal_data(std::vector<es::RecordedEvent>& events) const {
  for (auto& e : events) {
    if (!es::is_sealed(e.data)) continue;
    auto subject = es::subject_of(e.metadata);
    if (!subject.ok() || !*subject) continue;
    std::optional<std::string> opened;
    if (options_.subject_keys) {
      auto key = options_.subject_keys->get(**subject);
      if (key.ok() && *key) opened = es::unseal(**key, **subject, e.id, e.data);
    }
    e.data = opened ? std::move(*opened) : std::string(es::kRedactedData);
  }
}

void Server::on_forget(const Request& rq, protocol::ForgetRequest&& forget) {
  if (Status v = es::SubjectKeys::validate(forget.subject); !v.ok()) return fail(rq, v);
  if (!options_.subject_keys)
    return fail(rq, Status::invalid("this node keeps no subject keys (esd --subject-keys DIR)"));
  std::string data = "{\"subject\":";
  es::append_json_string(data, forget.subject);
  data += "}";
  es::AppendRequest append;
  append.events.push_back(es::ProposedEvent{std::string(es::kSubjectsStream), es::Uuid::v7(),
                                            std::string(es::kForgottenType), data, ""});
  spdlog::info("forgetting a data subject, asked by {}", who(rq));
  queue_write(PendingReply{rq.identity, rq.id, std::nullopt}, std::move(append));
}

void Server::on_subject_keys(const Request& rq, protocol::SubjectKeysRequest&& wanted) {
  if (wanted.subjects.size() > protocol::kMaxSubjectKeys) {
    return fail(rq, Status::invalid("at most " + std::to_string(protocol::kMaxSubjectKeys) +
                                    " subjects per request"));
  }
  protocol::SubjectKeysReply reply;
  if (options_.subject_keys) {
    for (auto& subject : wanted.subjects) {
      auto key = options_.subject_keys->get(subject);
      if (!key.ok() && key.status().code() == Code::kInvalidArgument) return fail(rq, key.status());
      if (key.ok() && *key) reply.keys.push_back({std::move(subject), **key});
    }
  }
  answer(rq, Kind::kSubjectKeysOk, reply);
}

void Server::destroy_forgotten_keys(const std::vector<es::RecordedEvent>& committed) {
  for (const auto& e : committed) {
    auto subject = es::forgotten_subject(e);
    if (!subject) continue;
    if (!options_.subject_keys) {
      spdlog::warn(
          "a data subject was forgotten at position {}, and this node keeps no subject "
          "keys (--subject-keys)",
          e.position);
      continue;
    }
    if (Status s = options_.subject_keys->destroy(*subject); !s.ok()) {
      spdlog::error("forgetting the data subject at position {}: {}", e.position, s.message());
      continue;
    }
    spdlog::info("data subject forgotten at position {}: its key is destroyed", e.position);
  }
}

// es delete, es retention: the new rules, from the stream and its rules as
// they are now, go in as an event of its metadata stream; the expectations
// on both streams make a race with another append or change a conflict.
void Server::on_stream_rules(const Request& rq, protocol::StreamRulesRequest&& change) {
  using Action = protocol::StreamRulesRequest::Action;
  const std::string& stream = change.stream;
  if (Status v = es::validate_lookup_name("stream name", stream); !v.ok()) return fail(rq, v);
  if (es::is_metadata_stream(stream))
    return fail(rq, Status::invalid("stream " + stream + " is a metadata stream: it has no rules"));
  auto info = store_.stream_info(stream);
  if (!info.ok()) return fail(rq, info.status());
  auto meta = store_.stream_info(es::metadata_stream_of(stream));
  if (!meta.ok()) return fail(rq, meta.status());
  std::optional<es::Version> last;
  if (*info) last = (*info)->last_version;
  es::StreamRules rules = store_.rules(stream);
  if (rules.tombstone) {
    return fail(rq, Status(Code::kStreamDeleted,
                           "stream " + stream + " was deleted for good (es delete --hard)"));
  }
  if (change.has_expected) {
    if (change.action == Action::kRetention)
      return fail(rq, Status::invalid("an expected version goes with a deletion only"));
    last = change.expected;
  }
  std::string_view type;
  switch (change.action) {
    case Action::kRetention: {
      auto patched = es::patch_rules(rules, change.patch);
      if (!patched.ok()) return fail(rq, patched.status());
      rules = *patched;
      type = es::kMetadataType;
      break;
    }
    case Action::kDelete:
      if (!last) return fail(rq, Status::not_found("stream " + stream + " does not exist"));
      rules.truncate_before = std::max<es::Version>(rules.truncate_before.value_or(0), *last + 1);
      type = es::kDeletedType;
      break;
    case Action::kTombstone:
      rules.tombstone = true;
      if (last)
        rules.truncate_before = std::max<es::Version>(rules.truncate_before.value_or(0), *last + 1);
      type = es::kTombstoneType;
      break;
    default:
      return fail(rq, Status::invalid("unknown stream rules change " +
                                      std::to_string(static_cast<int>(change.action))));
  }
  es::AppendRequest append;
  append.events.push_back(es::ProposedEvent{es::metadata_stream_of(stream), es::Uuid::v7(),
                                            std::string(type), es::rules_json(rules), ""});
  auto version_of = [](const std::optional<es::StreamInfo>& i) {
    return i ? es::ExpectedVersion::exact(i->last_version) : es::ExpectedVersion::no_stream();
  };
  append.expectations.push_back({es::metadata_stream_of(stream), version_of(*meta)});
  if (change.action != Action::kRetention) {
    append.expectations.push_back(
        {stream, last ? es::ExpectedVersion::exact(*last) : es::ExpectedVersion::no_stream()});
  }
  spdlog::info("stream {}: {} by {} ({})", stream, type, who(rq), es::rules_json(rules));
  queue_write(PendingReply{rq.identity, rq.id, std::nullopt}, std::move(append));
}

void Server::rebuild_after_deletions(const std::vector<es::RecordedEvent>& committed) {
  if (!projections_) return;
  if (auto removed = removals_in(committed); !removed.empty())
    projections_->rebuild_without(removed);
}

void Server::rebuild_after_source_removals() {
  auto found = source_link_->removals_found();
  if (!found) return;
  projections_->rebuild_without(found->removed);
  source_link_->removals_done(found->upto);
}

void Server::on_read(const Request& rq, es::ReadRequest&& read) {
  auto result = store_.read(read);
  if (!result.ok()) return fail(rq, result.status());
  if (!read.raw) open_personal_data(result->events);  // a replica copies it sealed
  answer(rq, Kind::kReadOk, *result);
}

void Server::on_streams(const Request& rq, protocol::StreamsRequest&& streams) {
  if (Status v = es::validate_lookup_name("stream prefix", streams.prefix); !v.ok())
    return fail(rq, v);
  if (Status v = es::validate_lookup_name("stream name", streams.after); !v.ok())
    return fail(rq, v);
  const std::size_t limit =
      std::min<std::size_t>(streams.limit == 0 ? 1000 : streams.limit, es::kMaxReadLimit);
  auto result = store_.streams(streams.prefix, streams.after, limit);
  if (!result.ok()) return fail(rq, result.status());
  protocol::StreamsReply r{std::move(result).value(), false};
  r.end = r.streams.size() < limit;
  answer(rq, Kind::kStreamsOk, r);
}

void Server::on_status(const Request& rq) { answer(rq, Kind::kStatusOk, status_reply()); }

void Server::on_stop(const Request& rq) {
  spdlog::info("stopping: asked by {}", who(rq));
  stopping_ = true;
  stop_requested_by_client_ = true;
  stop_identity_ = rq.identity;
  stop_request_id_ = rq.id;
}

void Server::on_checkpoint_get(const Request& rq, protocol::CheckpointQuery&& query) {
  if (Status v = es::validate_stored_name("subscription name", query.name); !v.ok())
    return fail(rq, v);
  auto stored = store_.checkpoint(query.name);
  if (!stored.ok()) return fail(rq, stored.status());
  answer(rq, Kind::kCheckpointOk,
         protocol::CheckpointReply{stored->has_value(), stored->value_or(0)});
}

void Server::on_checkpoint_set(const Request& rq, es::Checkpoint&& checkpoint) {
  if (Status v = es::Store::validate(checkpoint); !v.ok()) return fail(rq, v);
  if (checkpoint.name[0] == '$') {
    return fail(rq, Status::invalid("subscription name " + checkpoint.name +
                                    ": names that start with $ are reserved"));
  }
  if (Status s = check_owner(rq, checkpoint.name); !s.ok()) {
    if (s.code() == Code::kPermissionDenied && refused_requests_log_.take())
      spdlog::warn("refused checkpoint set from {}: {}", who(rq), s.message());
    return fail(
        rq, s.code() == Code::kPermissionDenied ? Status::denied("refused: " + s.message()) : s);
  }
  queue_write(PendingReply{rq.identity, rq.id, std::nullopt},
              std::vector<es::Checkpoint>{std::move(checkpoint)});
}

void Server::on_checkpoint_list(const Request& rq) {
  auto all = store_.checkpoints();
  if (!all.ok()) return fail(rq, all.status());
  answer(rq, Kind::kCheckpointListOk,
         protocol::CheckpointListReply{std::move(all).value(),
                                       groups_.live(std::chrono::steady_clock::now())});
}

// A named subscription's checkpoint, or every slot's of a group that has
// no live member (a member that is still syncing would write them again).
void Server::on_checkpoint_remove(const Request& rq, protocol::CheckpointRemoveRequest&& remove) {
  const char* what = remove.group ? "group name" : "subscription name";
  if (Status v = es::validate_stored_name(what, remove.name); !v.ok()) return fail(rq, v);
  std::vector<std::string> names;
  if (!remove.group) {
    if (remove.name[0] == '$') {
      return fail(rq, Status::invalid("subscription name " + remove.name +
                                      ": names that start with $ are reserved (a group's "
                                      "checkpoints go with es subscriptions rm --group)"));
    }
    names.push_back(remove.name);
  } else {
    if (auto members = groups_.members(remove.name, std::chrono::steady_clock::now());
        members > 0) {
      return fail(rq,
                  Status(Code::kBusy, "group " + remove.name + " has " + std::to_string(members) +
                                          " live member(s): stop them first (a member's "
                                          "lease runs out " +
                                          std::to_string(es::kGroupLeaseMs / 1000) +
                                          " s after its last sync)"));
    }
    for (std::uint16_t k = 0; k < es::kGroupSlots; ++k)
      names.push_back(es::group_checkpoint_name(remove.name, k));
  }
  std::vector<es::Checkpoint> gone;
  for (auto& name : names) {
    auto stored = store_.checkpoint(name);
    if (!stored.ok()) return fail(rq, stored.status());
    if (stored->has_value()) gone.push_back(es::Checkpoint{std::move(name), 0, true});
  }
  if (gone.empty()) {
    return fail(rq, Status::not_found(
                        std::string(remove.group ? "no group named " : "no subscription named ") +
                        remove.name));
  }
  spdlog::info("{} {}: {} checkpoint(s) removed by {}", remove.group ? "group" : "subscription",
               remove.name, gone.size(), who(rq));
  if (!remove.group) {  // the name is free to claim again
    if (Status s = checkpoint_owners_.forget(remove.name); !s.ok()) return fail(rq, s);
  }
  PendingReply pending{rq.identity, rq.id, std::nullopt};
  pending.removal = true;
  queue_write(std::move(pending), std::move(gone));
}

void Server::reply_projection(const Request& rq, const std::string& name) {
  auto info = projections_->info(name, store_.head());
  if (!info.ok()) return fail(rq, info.status());
  add_link(*info);
  answer(rq, Kind::kProjectionOk, info->front());
}

void Server::add_link(std::vector<protocol::ProjectionInfo>& infos) const {
  if (!source_link_) return;
  const SourceLink::Snapshot link = source_link_->snapshot();
  for (auto& i : infos) {
    i.link = link.state;
    i.link_since_us = link.since_us;
    i.head = std::max(i.head, link.source_head);
  }
}

namespace {

// A projection request's name (a new one for add: today's rules; one that
// may be older otherwise), and the program it carries (if any), within limits.
Status check_projection(const std::string& name, const std::string& source, bool is_new) {
  constexpr std::size_t kMaxSourceBytes = 1u << 20;
  ES_RETURN_IF_ERROR(is_new ? es::validate_name("projection name", name)
                            : es::validate_stored_name("projection name", name));
  if (source.size() > kMaxSourceBytes) return Status::invalid("a projection file is at most 1 MiB");
  return {};
}

}  // namespace

void Server::on_projection_add(const Request& rq, protocol::ProjectionAddRequest&& add) {
  if (Status v = check_projection(add.name, add.source, true); !v.ok()) return fail(rq, v);
  if (Status s = projections_->add(add.name, add.source); !s.ok()) return fail(rq, s);
  spdlog::info("projection {} added by {}", add.name, who(rq));
  reply_projection(rq, add.name);
}

void Server::on_projection_control(const Request& rq,
                                   protocol::ProjectionControlRequest&& control) {
  if (Status v = check_projection(control.name, control.source, false); !v.ok()) return fail(rq, v);
  Status s;
  if (control.op == "stop") {
    s = projections_->stop(control.name);
  } else if (control.op == "start") {
    s = projections_->start(control.name);
  } else if (control.op == "reset") {
    s = projections_->reset(control.name, control.source);
  } else if (control.op == "rm") {
    s = projections_->remove(control.name);
    if (s.ok()) {
      spdlog::info("projection {} removed by {}", control.name, who(rq));
      protocol::ProjectionInfo gone;
      gone.name = control.name;
      gone.status = "removed";
      gone.head = store_.head();
      return answer(rq, Kind::kProjectionOk, gone);
    }
  } else {
    s = Status::invalid("unknown projection operation '" + control.op + "'");
  }
  if (!s.ok()) return fail(rq, s);
  spdlog::info("projection {}: {} by {}", control.name, control.op, who(rq));
  reply_projection(rq, control.name);
}

void Server::on_projection_list(const Request& rq, protocol::ProjectionQuery&& query) {
  if (Status v = es::validate_lookup_name("projection name", query.name); !v.ok())
    return fail(rq, v);
  auto info = projections_->info(query.name, store_.head());
  if (!info.ok()) return fail(rq, info.status());
  add_link(*info);
  answer(rq, Kind::kProjectionListOk, protocol::ProjectionListReply{std::move(info).value()});
}

void Server::on_projection_state(const Request& rq, protocol::ProjectionStateRequest&& state) {
  if (Status v = es::validate_lookup_name("projection name", state.name); !v.ok())
    return fail(rq, v);
  constexpr std::size_t kMaxKeyBytes = 64u << 10;
  if (state.key.size() > kMaxKeyBytes || state.after.size() > kMaxKeyBytes)
    return fail(rq, Status::invalid("a partition key is looked up with at most 64 KiB"));
  const std::size_t limit =
      std::min<std::size_t>(state.limit == 0 ? 1000 : state.limit, es::kMaxReadLimit);
  auto view =
      projection_store_.view(state.name, state.has_key ? &state.key : nullptr, state.after, limit);
  if (!view.ok()) return fail(rq, view.status());
  if (!view->has_value()) return fail(rq, Status::not_found("no projection named " + state.name));
  protocol::ProjectionStateReply r;
  r.position = (*view)->checkpoint;
  for (auto& [key, value] : (*view)->states)
    r.partitions.push_back(protocol::PartitionEntry{std::move(key), std::move(value)});
  r.end = state.has_key || r.partitions.size() < limit;
  if (state.has_key && r.partitions.empty()) {
    return fail(rq,
                Status::not_found("projection " + state.name + " has no partition " + state.key));
  }
  answer(rq, Kind::kProjectionStateOk, r);
}

void Server::on_group_sync(const Request& rq, protocol::GroupSyncRequest&& sync) {
  if (Status v = es::validate_name("group name", sync.group); !v.ok()) return fail(rq, v);
  if (Status v = es::validate_name("group member", sync.member); !v.ok()) return fail(rq, v);
  if (sync.held.size() > es::kGroupSlots) {
    return fail(rq, Status::invalid("a group member holds at most " +
                                    std::to_string(es::kGroupSlots) + " slots"));
  }
  // Checkpoints first (only of slots the member holds), the answer after
  // their commit: a slot is handed on only with its last checkpoint stored.
  auto accepted = groups_.accepted(sync, std::chrono::steady_clock::now());
  queue_write(PendingReply{rq.identity, rq.id, std::move(sync)}, std::move(accepted));
}

template <class Work>
void Server::queue_write(PendingReply pending, Work work) {
  if (storage_failed_) {
    return reply_error(pending.identity, pending.request_id,
                       Status::unavailable("the node's store failed"));
  }
  es::WriteItem item{next_tag_++, {}, std::nullopt};
  if constexpr (std::is_same_v<Work, es::AppendRequest>) {
    // A group is one journal frame's worth: a full one is committed first.
    if (!burst_budget_.take(work)) {
      commit_burst();
      burst_budget_.take(work);
    }
    item.request = std::move(work);
  } else {
    item.checkpoints = std::move(work);
  }
  pending_.emplace(item.tag, std::move(pending));
  burst_.push_back(std::move(item));
}

void Server::commit_burst() {
  if (burst_.empty()) return;
  const auto began = std::chrono::steady_clock::now();
  es::GroupOutcome outcome = es::commit_group(store_, burst_);
  if (!outcome.committed.empty()) {
    metrics_.commit_seconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
    metrics_.commit_group_events.observe(static_cast<double>(outcome.committed.size()));
  }
  burst_.clear();
  burst_budget_.reset();
  handle_group(outcome);
}

void Server::answer_checkpoint_move(const PendingReply& pending,
                                    const es::Result<std::vector<es::Position>>& moved) {
  if (!moved.ok()) return reply_error(pending.identity, pending.request_id, moved.status());
  if (pending.removal) {
    protocol::CheckpointRemoveReply r{static_cast<std::uint32_t>(moved->size())};
    return reply(pending.identity,
                 protocol::encode(Kind::kCheckpointRemoveOk, pending.request_id, r));
  }
  if (!pending.group_sync) {
    protocol::CheckpointReply r{true, moved->empty() ? 0 : moved->front()};
    return reply(pending.identity, protocol::encode(Kind::kCheckpointOk, pending.request_id, r));
  }
  Status lookup;
  auto r = groups_.sync(*pending.group_sync, std::chrono::steady_clock::now(),
                        [&](const std::string& name) -> std::optional<es::Position> {
                          auto p = store_.checkpoint(name);
                          if (!p.ok()) {
                            lookup = p.status();
                            return std::nullopt;
                          }
                          return *p;
                        });
  if (!lookup.ok()) return reply_error(pending.identity, pending.request_id, lookup);
  reply(pending.identity, protocol::encode(Kind::kGroupSyncOk, pending.request_id, r));
}

void Server::on_replica_report(const Request& rq, protocol::ReplicaReport&& report) {
  constexpr std::size_t kMaxReplicas = 1000;
  if (Status v = es::validate_name("replica endpoint", report.listen); !v.ok()) return fail(rq, v);
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(replicas_,
                [&](const auto& r) { return now - r.second.at > std::chrono::minutes(10); });
  // A replica bound to a wildcard address is listed where its reports come from.
  const std::string listen = es::reachable_endpoint(report.listen, peer_address(rq.payload));
  if (replicas_.size() >= kMaxReplicas && !replicas_.contains(listen))
    return fail(rq, Status::invalid("this node lists at most 1000 replicas"));
  auto [seen, is_new] = replicas_.try_emplace(listen);
  if (is_new) spdlog::debug("{} {} reports to this node", report.role, listen);
  seen->second = ReplicaSeen{report.head, now, report.stopping, report.role};
  answer(rq, Kind::kReplicaReportOk, protocol::Empty{});
}

// The copy runs on the backup worker's thread; the reply goes out when it
// is made and checked (finish_backup).
void Server::on_backup(const Request& rq, protocol::BackupRequest&& backup) {
  if (Status s = backup_->start(rq.identity, rq.id, backup.dir); !s.ok()) return fail(rq, s);
  spdlog::info("backup into {} asked by {}, at head {}", backup.dir, who(rq), store_.head());
}

void Server::finish_backup() {
  auto outcome = backup_->finish();
  if (!outcome) return;
  if (!outcome->report.ok()) {
    spdlog::error("backup into {} failed: {}", outcome->dir, outcome->report.status().message());
    return reply_error(outcome->identity, outcome->request_id, outcome->report.status());
  }
  const es::store::BackupReport& r = *outcome->report;
  protocol::BackupReply reply_body{r.dir,
                                   r.copy.head,
                                   r.copy.chain,
                                   r.acknowledged,
                                   r.copy.events,
                                   r.copy.checkpoints,
                                   r.copy.max_checkpoint,
                                   r.log_bytes,
                                   r.projection_bytes,
                                   static_cast<std::uint64_t>(r.took.count()),
                                   options_.project_from};
  spdlog::info("backup into {} made and checked: head {}, {} + {} bytes, in {:.3f} s", r.dir,
               r.copy.head, r.log_bytes, r.projection_bytes, r.took.count() / 1e6);
  reply(outcome->identity, protocol::encode(Kind::kBackupOk, outcome->request_id, reply_body));
}

// Promotion is an operator's act: only a replica that has lost its primary
// (no contact for a while) and holds everything it saw of it.
void Server::on_promote(const Request& rq, protocol::PromoteRequest&& promote) {
  if (read_node_) {
    return fail(rq, Status::invalid("this node is a read node fed by " + options_.project_from +
                                    ": it holds no copy of the log to promote"));
  }
  if (!follower_) return fail(rq, Status::invalid("this node is a primary already"));
  const Follower::Snapshot f = follower_->snapshot();
  if (f.state == "following") {
    return fail(rq, Status::invalid("the primary " + options_.follow + " answered " +
                                    std::to_string(f.contact_ms.value_or(0)) +
                                    " ms ago: stop it first (es stop -s " + options_.follow + ")"));
  }
  if (store_.head() < f.primary_head && !promote.force) {
    return fail(rq, Status::invalid("this replica is at position " + std::to_string(store_.head()) +
                                    ", behind position " + std::to_string(f.primary_head) +
                                    " that the primary had: promoting it would lose events "
                                    "(--force does)"));
  }
  follower_->stop();
  follower_.reset();  // a primary from now on
  spdlog::warn("promoted by {}: this node is a primary at position {} (it followed {})", who(rq),
               store_.head(), options_.follow);
  answer(rq, Kind::kPromoteOk, protocol::PromoteReply{store_.head()});
}

void Server::drain_completions(bool) {
  zmq::message_t m;
  while (completions_in_.recv(m, zmq::recv_flags::dontwait)) {
    es::GroupOutcome* raw = nullptr;
    if (m.size() != sizeof raw) continue;
    std::memcpy(&raw, m.data(), sizeof raw);
    std::unique_ptr<es::GroupOutcome> outcome(raw);
    handle_group(*outcome);
  }
}

void Server::handle_group(es::GroupOutcome& outcome) {
  if (!outcome.committed.empty() && ++groups_committed_ == options_.exit_before_publish_group) {
    spdlog::critical("failpoint exit-before-publish: exiting after commit of group {}",
                     groups_committed_);
    std::_Exit(99);
  }
  destroy_forgotten_keys(outcome.committed);  // before es forget hears it is done
  // A group with events shows at debug; one of checkpoint moves only (the
  // group syncs', every few hundred ms) at trace.
  const auto level = outcome.committed.empty() ? spdlog::level::trace : spdlog::level::debug;
  if (spdlog::should_log(level) &&
      (!outcome.committed.empty() || !outcome.checkpoint_results.empty())) {
    std::size_t refused = 0;
    for (const auto& [tag, result] : outcome.results) refused += result.ok() ? 0 : 1;
    spdlog::log(level, "commit: {} appends ({} refused), {} events{}, {} checkpoint moves{}{}",
                outcome.results.size(), refused, outcome.committed.size(),
                outcome.committed.empty()
                    ? std::string()
                    : fmt::format(" at {}..{}", outcome.committed.front().position,
                                  outcome.committed.back().position),
                outcome.checkpoint_results.size(),
                outcome.replicated_tag ? " (copied from the primary)" : "",
                outcome.status.ok() ? "" : ": " + outcome.status.message());
  }
  if (outcome.replicated_tag && follower_)
    follower_->committed(*outcome.replicated_tag, outcome.status, std::move(outcome.not_written));
  if (outcome.replicated_tag) {
    if (outcome.status.ok()) metrics_.replicated_events.add(outcome.committed.size());
  } else {
    std::uint64_t bytes = 0;
    for (const auto& e : outcome.committed)
      bytes += e.type.size() + e.data.size() + e.metadata.size();
    metrics_.appended_events.add(outcome.committed.size());
    metrics_.appended_bytes.add(bytes);
  }
  for (auto& [tag, moved] : outcome.checkpoint_results) {
    auto it = pending_.find(tag);
    if (it == pending_.end()) continue;
    const PendingReply& p = it->second;
    metrics_.count_request(p.group_sync ? Kind::kGroupSync
                           : p.removal  ? Kind::kCheckpointRemove
                                        : Kind::kCheckpointSet,
                           moved.ok() ? Code::kOk : moved.status().code());
    answer_checkpoint_move(it->second, moved);
    pending_.erase(it);
  }
  for (auto& [tag, result] : outcome.results) {
    auto it = pending_.find(tag);
    if (it == pending_.end()) continue;
    metrics_.count_request(Kind::kAppend, result.ok() ? Code::kOk : result.status().code());
    if (result.ok()) {
      ++appends_;
      reply(it->second.identity, protocol::encode(Kind::kAppendOk, it->second.request_id, *result));
    } else {
      if (result.status().code() == Code::kWrongExpectedVersion) {
        ++conflicts_;
        metrics_.conflicts.add();
      }
      reply_error(it->second.identity, it->second.request_id, result.status());
    }
    pending_.erase(it);
  }
  publish_events(outcome.committed);
  rebuild_after_deletions(outcome.committed);
  if (!outcome.status.ok()) {
    if (outcome.status.code() == Code::kDiverged) {
      // The follower stops on it; the loop then exits.
    } else if (outcome.status.code() == Code::kDiskFull) {
      spdlog::error("{} refused: {}", outcome.replicated_tag ? "copy from the primary" : "append",
                    outcome.status.message());
    } else {
      spdlog::critical("storage failed, exiting: {}", outcome.status.to_string());
      storage_failed_ = true;
    }
  }
}

void Server::publish_events(const std::vector<es::RecordedEvent>& stored) {
  // Subscribers get sealed data opened, as readers do.
  const bool any_sealed = std::any_of(stored.begin(), stored.end(),
                                      [](const auto& e) { return es::is_sealed(e.data); });
  std::vector<es::RecordedEvent> opened;
  if (any_sealed) {
    opened = stored;
    open_personal_data(opened);
  }
  const std::vector<es::RecordedEvent>& events = any_sealed ? opened : stored;
  protocol::EventsNotice notice;
  std::size_t bytes = 0;
  auto flush = [&] {
    if (notice.events.empty()) return;
    pub_.send(zmq::buffer(protocol::encode(Kind::kEvents, 0, notice)), zmq::send_flags::dontwait);
    notice.events.clear();
    bytes = 0;
  };
  metrics_.published_events.add(events.size());
  for (const auto& e : events) {
    published_head_ = e.position;
    notice.events.push_back(e);
    bytes += e.data.size() + e.metadata.size() + e.stream.size() + 64;
    if (notice.events.size() >= kPublishChunkEvents || bytes >= kPublishChunkBytes) flush();
  }
  flush();
}

void Server::publish_heartbeat() {
  protocol::HeartbeatNotice hb{published_head_, role()};
  pub_.send(zmq::buffer(protocol::encode(Kind::kHeartbeat, 0, hb)), zmq::send_flags::dontwait);
}

protocol::StatusReply Server::status_reply() const {
  protocol::StatusReply r;
  r.role = role();
  r.head_time_us = store_.head_time_us();
  r.version = ES_VERSION;
  r.head = store_.head();
  r.streams = store_.stream_count();
  r.store_bytes = store_.size_bytes();
  r.map_bytes = store_.map_size();
  r.uptime_us = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                               std::chrono::steady_clock::now() - started_)
                                               .count());
  r.clients = clients_;
  r.subscribers = subscribers_;
  r.appends = appends_;
  r.conflicts = conflicts_;
  r.data = store_.dir();
  r.listen = bound_listen_;
  r.publish = bound_publish_;
  r.durability = options_.durability;
  if (struct statvfs fs{}; ::statvfs(store_.dir().c_str(), &fs) == 0) {
    r.disk_free_bytes = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    r.disk_bytes = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
  }
  if (follower_) {
    Follower::Snapshot f = follower_->snapshot();
    r.primary = options_.follow;
    r.follow_state = f.state;
    r.primary_head = std::max(f.primary_head, r.head);
    r.primary_contact_ms = f.contact_ms ? static_cast<std::int64_t>(*f.contact_ms) : -1;
    r.follow_error = f.error;
  }
  if (source_link_) {
    const SourceLink::Snapshot link = source_link_->snapshot();
    r.source = options_.project_from;
    r.source_state = link.state;
    r.source_since_us = link.since_us;
    r.source_head = link.source_head;
    r.source_contact_ms = link.contact_ms ? static_cast<std::int64_t>(*link.contact_ms) : -1;
    r.source_error = link.error;
    // How far the lowest running projection is behind the source's head.
    if (auto infos = projections_->info("", 0); infos.ok() && link.contact_ms) {
      for (const auto& i : *infos) {
        if (i.status != "running") continue;
        const es::Position head = std::max(link.source_head, i.head);
        const auto behind = static_cast<std::int64_t>(head > i.position ? head - i.position : 0);
        r.source_lag_events = std::max(r.source_lag_events, behind);
      }
    }
  }
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [listen, seen] : replicas_) {
    r.replicas.push_back(protocol::ReplicaInfo{
        listen, seen.head,
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now - seen.at).count()),
        seen.stopping, seen.role});
  }
  return r;
}

}  // namespace esd

namespace esd {

void Server::report_health() {
  NodeMetrics::Tables t;
  t.role = role();
  const es::Position head = store_.head();
  std::string not_ready;
  if (storage_failed_) not_ready = "the store failed";
  if (follower_) {
    const Follower::Snapshot f = follower_->snapshot();
    t.follows = true;
    t.primary = options_.follow;
    t.follow_state = f.state;
    t.primary_lag_events = f.primary_head > head ? static_cast<double>(f.primary_head - head) : 0.0;
    t.primary_contact_seconds = f.contact_ms ? static_cast<double>(*f.contact_ms) / 1e3 : -1.0;
    // A replica that does not follow serves an ever older log: a load
    // balancer should send its readers elsewhere (esd(8), /readyz).
    if (f.state != "following" && not_ready.empty()) {
      not_ready = "replica of " + options_.follow + " is not following it (" + f.state +
                  (f.error.empty() ? "" : ": " + f.error) + ")";
    }
  }
  const auto now = std::chrono::steady_clock::now();
  const std::int64_t now_us = es::now_us();
  for (const auto& [listen, seen] : replicas_) {
    NodeMetrics::Replica r;
    r.listen = listen;
    r.role = seen.role;
    r.lag_events = seen.head < head ? static_cast<double>(head - seen.head) : 0.0;
    r.report_age_seconds = std::chrono::duration<double>(now - seen.at).count();
    if (seen.head < head) {
      // How long ago the first event it lacks was committed.
      es::ReadRequest first;
      first.from = seen.head + 1;
      first.limit = 1;
      if (auto got = store_.read(first); got.ok() && !got->events.empty()) {
        r.lag_seconds =
            std::max<double>(0, static_cast<double>(now_us - got->events.front().time_us) / 1e6);
      }
    }
    t.replicas.push_back(std::move(r));
  }
  if (auto infos = projections_->info("", head); infos.ok()) {
    const auto failures = projections_->failures();
    for (const auto& i : *infos) {
      NodeMetrics::Projection p;
      p.name = i.name;
      p.status = i.status;
      p.position = static_cast<double>(i.position);
      const es::Position its_head =
          std::max(i.head, source_link_ ? source_link_->snapshot().source_head : 0);
      p.lag_events = its_head > i.position ? static_cast<double>(its_head - i.position) : 0.0;
      if (auto f = failures.find(i.name); f != failures.end())
        p.failures = static_cast<double>(f->second);
      t.projections.push_back(std::move(p));
    }
  }
  metrics_.set_tables(std::move(t));
  metrics_.serving(not_ready.empty(), not_ready);
}

}  // namespace esd

// daemon/server.h
//
// The node: one thread runs a zmq::poll loop that owns the ROUTER (requests)
// and PUB (committed events, heartbeats) sockets. Reads are served from the
// loop (snapshots that never wait for a write). The appends and checkpoint
// moves of one burst of requests (what arrived by the time the loop looks)
// are committed together on the loop's thread (es::commit_group: one
// journal write and flush) and answered right after; the group's events are
// published then, in position order. While a flush runs, the next requests
// gather in the socket and make the next group. A replica's copies from its
// primary commit on the Writer's thread and are published by the loop.
//
// Stop (SIGTERM, SIGINT, or a kStop request): stop taking requests, let the
// Writer commit what is queued, answer and publish it, publish kStopping,
// answer the kStop request, close. A fatal storage error ends the loop with
// ExitReason::kStorageFailed.
//
// Under systemd (notify.h), run() says READY=1 just before its first poll,
// the status and the watchdog's keep-alives from each turn, STOPPING=1 when
// the loop ends.
//
// Reload (SIGHUP): the loop re-reads the settings (reload()) and applies the
// ones that can change while it runs; see reload.cc.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <zmq.hpp>

#include "es/store.h"
#include "es/writer.h"

#include "admission.h"
#include "backup_worker.h"
#include "checkpoint_owners.h"
#include "follower.h"
#include "groups.h"
#include "log_budget.h"
#include "metrics.h"
#include "notify.h"
#include "projection_host.h"
#include "protocol/messages.h"
#include "settings.h"
#include "source_link.h"

namespace esd {

using es::protocol::Kind;

struct ServerOptions {
  std::string listen = "tcp://127.0.0.1:7150";
  std::string publish;  // derived from listen when empty
  std::chrono::milliseconds heartbeat{1000};
  std::string durability = "sync";
  // Frames the publisher queues per subscriber before it drops (ZMQ_SNDHWM):
  // what bounds the memory a slow subscriber can cost. A subscriber repairs
  // what was dropped from the store.
  int publish_hwm = 256;
  // "primary" or "replica"; a replica copies the log of `follow` (its
  // request endpoint), through `follow_publish` when set.
  std::string role = "primary";
  std::string follow;
  std::string follow_publish;
  // The node whose log hosted projections read; empty: this one. A node
  // that is not a replica becomes a read node: it refuses appends.
  std::string project_from;
  // Where hosted projections run, and their limits (projections_dir is set by main).
  ProjectionHost::Options projections;
  // The cap on connections (see admission.h).
  Admission::Options admission;
  // The node's keys and allow-list (keyring.h); off: no keys.
  std::shared_ptr<Keyring> keyring = std::make_shared<Keyring>();
  // Data subjects' keys (esd --subject-keys, es/subject_keys.h); null: none,
  // and an event with a "$subject" is refused.
  std::shared_ptr<es::SubjectKeys> subject_keys;
  // Where a write key's claims on checkpoints are kept (checkpoint_owners.h).
  std::string data_dir;
  // Testing aid (ESD_FAILPOINT=exit-before-publish:N): _exit(99) right after
  // the Nth committed group, before its replies and its publish. 0: never.
  std::uint64_t exit_before_publish_group = 0;
  // The settings these options were made from, and how to read them again
  // on SIGHUP (none: a reload only reopens the log).
  Settings settings;
  std::function<es::Result<Settings>()> reread_settings;
  // Testing aid (ESD_FAILPOINT=backup-pause:MS): a backup waits this long
  // between its copies of the projections and of the log.
  std::chrono::milliseconds backup_pause{0};
  // Where the node counts for /metrics and says its health (esd's
  // --http-listen); none: the server keeps its own, unread.
  NodeMetrics* metrics = nullptr;
};

// What the signal thread sends the loop for SIGHUP; anything else stops it.
inline constexpr std::string_view kReloadSignal = "reload";

enum class ExitReason { kStopped, kStorageFailed, kDiverged };

// The publisher endpoint that goes with `listen` when none is given:
// tcp://H:P -> tcp://H:P+1, ipc://PATH -> ipc://PATH.pub, else inproc-like +".pub".
std::string default_publish_endpoint(const std::string& listen);

// The address a TCP message came from (ZeroMQ's Peer-Address); empty otherwise.
std::string peer_address(zmq::message_t& message);

class Server {
 public:
  // `projections`: where hosted projections keep their states (es project).
  Server(es::Store& store, es::ProjectionStore& projections, ServerOptions options);
  ~Server();

  // Binds both sockets; an error names the endpoint.
  es::Status bind();
  // Runs until stopped. `signal_fd`-like wake-ups come over `signals_endpoint`
  // (an inproc PAIR the signal thread connects to).
  ExitReason run(const std::string& signals_endpoint);
  zmq::context_t& context() { return ctx_; }
  // Re-reads the settings and applies, on the loop's thread, what changes
  // without a restart (the log's level, format and file, max-clients,
  // publish-hwm, the projections' limits); logs one line with what it
  // applied and which changed keys need a restart. Settings that do not
  // resolve (a bad file) are logged and the running ones stay.
  void reload();

 private:
  void apply_reread_settings();  // reload() without systemd's notices
  struct PendingReply {
    std::string identity;
    std::uint64_t request_id;
    std::optional<es::protocol::GroupSyncRequest> group_sync;  // answered by groups_
    bool removal = false;  // a checkpoint removal: answered with how many went
  };
  // One request: who sent it, its id and kind, its whole frame, and with
  // keys the key it came with and that key's role.
  struct Request {
    const std::string& identity;
    std::uint64_t id;
    Kind kind;
    std::string_view frame;
    zmq::message_t& payload;              // where it came from (peer_address)
    const es::AllowedKey* key = nullptr;  // none without keys
  };
  using Handler = void (Server::*)(const Request&);
  struct Route {
    Kind kind;
    const char* name;   // in the log
    es::Role role;      // what a key must have to make it (es/curve.h)
    bool primary_only;  // a replica or read node refuses it with kNotPrimary
    bool logged;        // --log-level debug shows it with its peer and outcome
    Handler handler;
  };
  static const Route kRoutes[];
  void name_request_kinds();  // for /metrics' kind label
  void handle_request(zmq::message_t& identity, zmq::message_t& payload);
  // Decodes the request's body as Body and hands it to Handler; a body that
  // does not decode is answered with the error.
  template <class Body, void (Server::*Handler)(const Request&, Body&&)>
  void with_body(const Request& rq);
  void fail(const Request& rq, const es::Status& s);
  // With keys: the key `payload` came with (nullptr: revoked since it
  // connected), and whether its role covers `route`; a refusal is
  // answered (kPermissionDenied) and logged.
  bool permitted(Request& rq, const Route& route);
  // A write key moves only the checkpoints it made (admin, any): refuses
  // the move, or claims `name` for the key.
  es::Status check_owner(const Request& rq, const std::string& name);
  // The kNotPrimary refusal of a replica or read node, naming where to write.
  es::Status not_primary() const;
  // The request's peer address ("a local client" over ipc or inproc).
  static std::string who(const Request& rq);
  static std::string logged_key(const std::string& identity, std::uint64_t request_id);
  void log_outcome(const std::string& identity, const std::string& frame);
  template <class Reply>
  void answer(const Request& rq, Kind kind, const Reply& r);
  void on_hello(const Request& rq);
  void on_append(const Request& rq, es::AppendRequest&& append);
  void on_read(const Request& rq, es::ReadRequest&& read);
  void on_streams(const Request& rq, es::protocol::StreamsRequest&& streams);
  void on_status(const Request& rq);
  void on_stop(const Request& rq);
  void on_checkpoint_get(const Request& rq, es::protocol::CheckpointQuery&& query);
  void on_checkpoint_set(const Request& rq, es::Checkpoint&& checkpoint);
  void on_checkpoint_list(const Request& rq);
  void on_checkpoint_remove(const Request& rq, es::protocol::CheckpointRemoveRequest&& remove);
  void on_projection_add(const Request& rq, es::protocol::ProjectionAddRequest&& add);
  void on_projection_control(const Request& rq, es::protocol::ProjectionControlRequest&& control);
  void on_projection_list(const Request& rq, es::protocol::ProjectionQuery&& query);
  void on_projection_state(const Request& rq, es::protocol::ProjectionStateRequest&& state);
  void reply_projection(const Request& rq, const std::string& name);
  void on_group_sync(const Request& rq, es::protocol::GroupSyncRequest&& sync);
  void on_replica_report(const Request& rq, es::protocol::ReplicaReport&& report);
  void on_promote(const Request& rq, es::protocol::PromoteRequest&& promote);
  void on_stream_rules(const Request& rq, es::protocol::StreamRulesRequest&& change);
  void on_forget(const Request& rq, es::protocol::ForgetRequest&& forget);
  void on_subject_keys(const Request& rq, es::protocol::SubjectKeysRequest&& keys);
  // Projections rebuild without what `committed` deleted or forgot.
  void rebuild_after_deletions(const std::vector<es::RecordedEvent>& committed);
  // A read node's: projections rebuild without what its source deleted or
  // forgot (SourceLink found it).
  void rebuild_after_source_removals();
  // Destroys the keys of the subjects `committed` forgot.
  void destroy_forgotten_keys(const std::vector<es::RecordedEvent>& committed);
  // Seals the data of the events that name a subject; opens it for readers.
  es::Status seal_personal_data(es::AppendRequest& append);
  void open_personal_data(std::vector<es::RecordedEvent>& events) const;
  void on_backup(const Request& rq, es::protocol::BackupRequest&& backup);
  // Answers the backup that ended (the backup worker's done_socket woke the loop).
  void finish_backup();
  // Adds `work` (an append or checkpoint moves) to the burst's group; the
  // reply goes out when the group has committed.
  template <class Work>
  void queue_write(PendingReply pending, Work work);
  // Commits the writes of this burst of requests as one group, on this
  // thread, then replies and publishes.
  void commit_burst();
  void answer_checkpoint_move(const PendingReply& pending,
                              const es::Result<std::vector<es::Position>>& moved);
  void handle_group(es::GroupOutcome& outcome);
  void reply(const std::string& identity, const std::string& frame);
  void reply_error(const std::string& identity, std::uint64_t request_id, const es::Status& s);
  void publish_events(const std::vector<es::RecordedEvent>& events);
  void publish_heartbeat();
  void drain_completions(bool wait);
  void handle_monitor(zmq::socket_t& mon, std::uint64_t* count);
  es::protocol::StatusReply status_reply() const;
  // Once per heartbeat: the tables /metrics shows and whether the node is
  // ready (NodeMetrics).
  void report_health();

  es::Store& store_;
  es::ProjectionStore& projection_store_;
  std::unique_ptr<ProjectionHost> projections_;  // made once the endpoint is bound
  ServerOptions options_;
  std::unique_ptr<NodeMetrics> own_metrics_;  // when options_ gives none
  NodeMetrics& metrics_;
  zmq::context_t ctx_;
  std::shared_ptr<Keyring> keyring_;      // options_.keyring
  std::unique_ptr<Admission> admission_;  // before the sockets it guards bind
  es::AllowedKey request_key_;            // the key of the request being handled
  LogBudget refused_requests_log_{20, "refused requests"};
  CheckpointOwners checkpoint_owners_;
  zmq::socket_t router_;
  zmq::socket_t pub_;
  zmq::socket_t completions_in_;   // the loop's end
  zmq::socket_t completions_out_;  // the writer thread's end
  zmq::socket_t router_monitor_;
  zmq::socket_t pub_monitor_;
  // Appends and checkpoint moves commit on the loop's thread, a burst of
  // requests at a time; the Writer's thread takes the batches a replica
  // copies from its primary.
  std::unique_ptr<es::Writer> writer_;
  std::vector<es::WriteItem> burst_;
  es::GroupBudget burst_budget_;
  std::unique_ptr<Follower> follower_;    // a replica's; none on a primary (or once promoted)
  std::unique_ptr<BackupWorker> backup_;  // es backup: copies off the loop, one at a time
  // A read node's link to its source; none on a primary or replica.
  std::unique_ptr<SourceLink> source_link_;
  const bool read_node_;  // --project-from, not a replica
  const char* role() const { return follower_ ? "replica" : read_node_ ? "read" : "primary"; }
  // Fills in a read node's link to its source (status, lag) in `infos`.
  void add_link(std::vector<es::protocol::ProjectionInfo>& infos) const;
  // Requests --log-level debug shows, until answered: by logged_key.
  struct LoggedRequest {
    const char* name;
    std::string peer;
    std::string correlation;  // an append's "$correlationId" (see correlation_of)
  };
  std::unordered_map<std::string, LoggedRequest> logged_;
  struct ReplicaSeen {
    es::Position head = 0;
    std::chrono::steady_clock::time_point at;
    bool stopping = false;
    std::string role;  // replica | read
  };
  std::unordered_map<std::string, ReplicaSeen> replicas_;  // by listen endpoint
  std::unordered_map<std::uint64_t, PendingReply> pending_;
  std::uint64_t next_tag_ = 1;
  // The last position published: heartbeats carry this, not the store's
  // head, which the writer moves at commit before the loop publishes.
  es::Position published_head_ = 0;
  std::string bound_listen_;  // as bound: a port of * resolved
  std::string bound_publish_;
  bool stopping_ = false;
  bool storage_failed_ = false;
  std::string stop_identity_;
  std::uint64_t stop_request_id_ = 0;
  bool stop_requested_by_client_ = false;
  std::chrono::steady_clock::time_point started_;
  std::uint64_t clients_ = 0;
  std::uint64_t subscribers_ = 0;
  std::uint64_t appends_ = 0;
  std::uint64_t conflicts_ = 0;
  std::uint64_t groups_committed_ = 0;
  GroupTable groups_{std::chrono::milliseconds(es::kGroupLeaseMs)};
  // The service manager (systemd): READY, STATUS, STOPPING and the
  // watchdog's keep-alives, all from the loop.
  Notifier notifier_;
};

}  // namespace esd

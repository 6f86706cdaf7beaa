// protocol/messages.h (private)
//
// The wire protocol between es (or any client) and esd. Every message is one
// ZeroMQ frame:
//   frame  := magic:u16le=0x5345 ("ES") version:u16le kind:u8 request_id:u64le body
//   body   := the cereal encoding (protocol/wire_archive.h) of the kind's struct
// Requests go over DEALER -> ROUTER and are answered with the same
// request_id; a client may pipeline. The node publishes on PUB, with
// request_id 0: kEvents after each commit (in position order), kHeartbeat
// every interval (the last position published), kStopping when it shuts
// down. A subscriber that misses a frame learns it from the next event's
// position or the next heartbeat, and reads the gap from the store.
// A frame whose version differs from kProtocolVersion gets kError/kProtocol.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "es/event.h"
#include "es/result.h"

namespace es::protocol {

inline constexpr std::uint16_t kMagic = 0x5345;
// 4: status, replica reports, projection info and checkpoint lists gained
// fields (read nodes, group members), and checkpoint removal came.
// 5: backups came (kBackup); the status reply gained the data file system's
//    free and total bytes.
inline constexpr std::uint16_t kProtocolVersion = 5;
inline constexpr std::size_t kHeaderBytes = 2 + 2 + 1 + 8;

enum class Kind : std::uint8_t {
  // requests
  kHello = 1,
  kAppend = 2,
  kRead = 3,
  kStreams = 4,
  kStatus = 5,
  kStop = 6,
  kCheckpointGet = 7,       // CheckpointQuery -> kCheckpointOk
  kCheckpointSet = 8,       // Checkpoint -> kCheckpointOk (after commit)
  kCheckpointList = 9,      // Empty -> kCheckpointListOk
  kGroupSync = 10,          // GroupSyncRequest -> kGroupSyncOk (after commit)
  kProjectionAdd = 11,      // ProjectionAddRequest -> kProjectionOk
  kProjectionControl = 12,  // ProjectionControlRequest -> kProjectionOk
  kProjectionList = 13,     // ProjectionQuery -> kProjectionListOk
  kProjectionState = 14,    // ProjectionStateRequest -> kProjectionStateOk
  kReplicaReport = 15,      // ReplicaReport -> kReplicaReportOk (a replica to its primary)
  kPromote = 16,            // PromoteRequest -> kPromoteOk (a replica becomes a primary)
  kCheckpointRemove = 17,   // CheckpointRemoveRequest -> kCheckpointRemoveOk (after commit)
  kBackup = 18,             // BackupRequest -> kBackupOk (once the copy is made and checked)
  kStreamRules = 19,        // StreamRulesRequest -> kAppendOk (once its event is committed)
  kForget = 20,             // ForgetRequest -> kAppendOk (once the subject's key is destroyed)
  kSubjectKeys = 21,        // SubjectKeysRequest -> kSubjectKeysOk (a replica's copy of keys)
  // replies
  kError = 100,
  kHelloOk = 101,
  kAppendOk = 102,
  kReadOk = 103,
  kStreamsOk = 104,
  kStatusOk = 105,
  kStopOk = 106,
  kCheckpointOk = 107,
  kCheckpointListOk = 108,
  kGroupSyncOk = 109,
  kProjectionOk = 110,
  kProjectionListOk = 111,
  kProjectionStateOk = 112,
  kReplicaReportOk = 113,
  kPromoteOk = 114,
  kCheckpointRemoveOk = 115,
  kBackupOk = 116,
  kSubjectKeysOk = 117,
  // published
  kEvents = 200,
  kHeartbeat = 201,
  kStopping = 202,
};

struct Header {
  std::uint16_t version = kProtocolVersion;
  Kind kind = Kind::kError;
  std::uint64_t request_id = 0;
};

struct Empty {
  template <class Archive>
  void serialize(Archive&) {}
};

struct ErrorReply {
  std::uint8_t code = 0;  // es::Code
  std::string message;
  bool has_actual_version = false;
  std::uint64_t actual_version = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(code, message, has_actual_version, actual_version);
  }
  static ErrorReply from(const Status& s);
  Status to_status() const;
};

struct HelloReply {
  std::string publish;  // the PUB endpoint as the node bound it
  std::string version;
  std::string role;
  Position head = 0;
  std::uint32_t heartbeat_ms = 1000;  // how often the publisher sends kHeartbeat

  template <class Archive>
  void serialize(Archive& ar) {
    ar(publish, version, role, head, heartbeat_ms);
  }
};

struct CheckpointQuery {
  std::string name;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name);
  }
};

struct CheckpointReply {
  bool exists = false;
  Position position = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(exists, position);
  }
};

// A slot of a group (es/group.h) and its checkpoint.
struct SlotCheckpoint {
  std::uint16_t slot = 0;
  Position position = 0;
  bool stored = true;  // in replies: false when the slot has no checkpoint yet
  template <class Archive>
  void serialize(Archive& ar) {
    ar(slot, position, stored);
  }
};

struct GroupSyncRequest {
  std::string group;
  std::string member;
  bool leave = false;                // let every slot go (after committing `held`)
  std::vector<SlotCheckpoint> held;  // the slots the member holds, with their checkpoints
  template <class Archive>
  void serialize(Archive& ar) {
    ar(group, member, leave, held);
  }
};

struct GroupSyncReply {
  std::uint64_t generation = 0;  // moves when the members change
  std::uint32_t members = 0;
  std::uint32_t lease_ms = 0;
  std::vector<SlotCheckpoint> owned;  // the slots the member holds from now on
  template <class Archive>
  void serialize(Archive& ar) {
    ar(generation, members, lease_ms, owned);
  }
};

// A hosted projection as `es project status` shows it.
struct ProjectionInfo {
  std::string name;
  std::string status;     // running | stopped | failed
  Position position = 0;  // its checkpoint: every event up to here is folded in
  Position head = 0;      // the node's head
  std::uint64_t partitions = 0;
  double events_per_s = 0;
  std::string error;  // failed: the event's position, type and stream, and jq's message
  Position error_position = 0;
  std::uint32_t generation = 0;
  bool rebuilding = false;  // a reset's new build runs beside the old one
  Position rebuild_position = 0;
  std::string source;
  // On a read node: the link to the log it reads (connecting, connected,
  // lost) and since when (µs since the epoch); empty on a node that
  // projects its own log.
  std::string link;
  std::int64_t link_since_us = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, status, position, head, partitions, events_per_s, error, error_position, generation,
       rebuilding, rebuild_position, source, link, link_since_us);
  }
};

struct ProjectionAddRequest {
  std::string name;
  std::string source;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, source);
  }
};

struct ProjectionControlRequest {
  std::string name;
  std::string op;      // stop | start | reset | rm
  std::string source;  // reset: the new program (empty: the current one)
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, op, source);
  }
};

struct ProjectionQuery {
  std::string name;  // empty: every projection
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name);
  }
};

struct ProjectionListReply {
  std::vector<ProjectionInfo> projections;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(projections);
  }
};

struct ProjectionStateRequest {
  std::string name;
  bool has_key = false;
  std::string key;
  std::string after;  // paging: partitions after this key
  std::uint32_t limit = 1000;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, has_key, key, after, limit);
  }
};

struct PartitionEntry {
  std::string key;
  std::string state;  // JSON
  template <class Archive>
  void serialize(Archive& ar) {
    ar(key, state);
  }
};

struct ProjectionStateReply {
  Position position = 0;  // the checkpoint the states are at
  std::vector<PartitionEntry> partitions;
  bool end = true;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(position, partitions, end);
  }
};

// A group with live members (leases not run out) and how many it has.
struct GroupMembers {
  std::string group;
  std::uint32_t members = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(group, members);
  }
};

struct CheckpointListReply {
  std::vector<Checkpoint> checkpoints;
  std::vector<GroupMembers> groups;  // the groups with live members
  template <class Archive>
  void serialize(Archive& ar) {
    ar(checkpoints, groups);
  }
};

// Deletes a named subscription's checkpoint, or (group) every slot
// checkpoint of a group; a group with live members is refused.
struct CheckpointRemoveRequest {
  std::string name;
  bool group = false;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, group);
  }
};

struct CheckpointRemoveReply {
  std::uint32_t removed = 0;  // checkpoints deleted
  template <class Archive>
  void serialize(Archive& ar) {
    ar(removed);
  }
};

struct StreamsRequest {
  std::string prefix;
  std::string after;
  std::uint32_t limit = 1000;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(prefix, after, limit);
  }
};

struct StreamsReply {
  std::vector<StreamInfo> streams;
  bool end = true;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(streams, end);
  }
};

// A replica tells its primary, every second, where it listens and how far
// it has copied: what `es nodes` finds replicas by. A read node (esd
// --project-from) tells its source the same way, with role "read".
struct ReplicaReport {
  std::string listen;
  Position head = 0;
  bool stopping = false;         // its last report: it is stopping
  std::string role = "replica";  // or "read"

  template <class Archive>
  void serialize(Archive& ar) {
    ar(listen, head, stopping, role);
  }
};

// A replica (or read node) as the node it reports to last heard of it.
struct ReplicaInfo {
  std::string listen;
  Position head = 0;
  std::uint64_t age_ms = 0;      // since its last report
  bool stopping = false;         // its last report said it was stopping
  std::string role = "replica";  // or "read"

  template <class Archive>
  void serialize(Archive& ar) {
    ar(listen, head, age_ms, stopping, role);
  }
};

// es delete and es retention: a change of a stream's rules
// (es/stream_rules.h), which the node writes as an event of its metadata
// stream, computed from the rules and the stream as they are, with both
// streams' versions as the append's expectations (a race is a conflict).
struct StreamRulesRequest {
  enum Action : std::uint8_t { kRetention = 0, kDelete = 1, kTombstone = 2 };
  std::string stream;
  std::uint8_t action = kRetention;
  // kRetention: the members to change, as JSON: a number sets one, null
  // clears it ({"max_count":100,"max_age":null}).
  std::string patch;
  // kDelete, kTombstone, with `has_expected`: only while the stream's last
  // version is `expected`.
  bool has_expected = false;
  Version expected = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(stream, action, patch, has_expected, expected);
  }
};

// es forget: a data subject's key is destroyed (es/subject_keys.h).
struct ForgetRequest {
  std::string subject;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(subject);
  }
};

// A replica asks its primary for the keys of the subjects whose sealed
// events it copies; the reply holds those the primary has (a forgotten
// subject's is not there).
struct SubjectKeysRequest {
  std::vector<std::string> subjects;  // at most kMaxSubjectKeys

  template <class Archive>
  void serialize(Archive& ar) {
    ar(subjects);
  }
};
inline constexpr std::size_t kMaxSubjectKeys = 10'000;

struct SubjectKeyEntry {
  std::string subject;
  std::array<std::uint8_t, 32> key{};

  template <class Archive>
  void serialize(Archive& ar) {
    ar(subject, key);
  }
};

struct SubjectKeysReply {
  std::vector<SubjectKeyEntry> keys;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(keys);
  }
};

struct PromoteRequest {
  bool force = false;  // even when behind the primary's last known head

  template <class Archive>
  void serialize(Archive& ar) {
    ar(force);
  }
};

struct PromoteReply {
  Position head = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(head);
  }
};

// A hot backup (store/backup.h) into `dir`, an absolute path on the node's
// host that does not exist or is an empty directory.
struct BackupRequest {
  std::string dir;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(dir);
  }
};

// The backup, made and checked by the node: the copy's head and the chain
// digest at it, the head acknowledged when it began, what the check walked.
struct BackupReply {
  std::string dir;
  Position head = 0;
  Chain digest{};
  Position acknowledged = 0;
  std::uint64_t events = 0;
  std::uint64_t checkpoints = 0;  // projection checkpoints in the copy
  Position max_checkpoint = 0;    // the highest (at most head)
  std::uint64_t log_bytes = 0;
  std::uint64_t projection_bytes = 0;
  std::uint64_t took_us = 0;
  // The node whose log the projections read (esd --project-from); empty:
  // this one's, and then max_checkpoint <= head.
  std::string projections_from;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(dir, head, digest, acknowledged, events, checkpoints, max_checkpoint, log_bytes,
       projection_bytes, took_us, projections_from);
  }
};

struct StatusReply {
  std::string role;
  std::string version;
  Position head = 0;
  std::uint64_t streams = 0;
  std::uint64_t store_bytes = 0;
  std::uint64_t map_bytes = 0;
  std::uint64_t uptime_us = 0;
  std::uint64_t clients = 0;
  std::uint64_t subscribers = 0;
  std::uint64_t appends = 0;
  std::uint64_t conflicts = 0;
  std::string data;
  std::string listen;
  std::string publish;
  std::string durability;
  std::int64_t head_time_us = 0;  // commit time of the event at the head (0: empty)
  // A replica: the primary it follows, how it follows it (connecting,
  // following, stopped, diverged), the primary's head as last seen and how
  // long ago it last heard from it.
  std::string primary;
  std::string follow_state;
  Position primary_head = 0;
  std::int64_t primary_contact_ms = -1;  // -1: never
  std::string follow_error;
  std::vector<ReplicaInfo> replicas;  // a node followed: its replicas' last reports
  // A read node (role "read", esd --project-from): the node whose log its
  // projections read, the link's state (connecting, connected, lost) and
  // since when (µs since the epoch), the source's head as last seen, how
  // long ago it last answered (-1: never), and how far the node's lowest
  // running projection is behind that head (-1: unknown, or none running).
  std::string source;
  std::string source_state;
  std::int64_t source_since_us = 0;
  Position source_head = 0;
  std::int64_t source_contact_ms = -1;
  std::int64_t source_lag_events = -1;
  std::string source_error;
  // The data directory's file system (protocol 5): bytes free to esd, and
  // its size (0: unknown).
  std::uint64_t disk_free_bytes = 0;
  std::uint64_t disk_bytes = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(role, version, head, streams, store_bytes, map_bytes, uptime_us, clients, subscribers,
       appends, conflicts, data, listen, publish, durability, head_time_us, primary, follow_state,
       primary_head, primary_contact_ms, follow_error, replicas, source, source_state,
       source_since_us, source_head, source_contact_ms, source_lag_events, source_error,
       disk_free_bytes, disk_bytes);
  }
};

struct StopReply {
  Position head = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(head);
  }
};

struct EventsNotice {
  std::vector<RecordedEvent> events;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(events);
  }
};

struct HeartbeatNotice {
  Position head = 0;
  std::string role;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(head, role);
  }
};

// Encodes a header and a body into one frame.
template <class T>
std::string encode(Kind kind, std::uint64_t request_id, const T& body);

// Reads the header of `frame`; checks the magic and the version.
Result<Header> decode_header(std::string_view frame);

// Decodes the body of `frame` (after the header) as a T. Refuses trailing
// bytes, oversized counts and truncation with Code::kProtocol.
template <class T>
Result<T> decode_body(std::string_view frame);

}  // namespace es::protocol

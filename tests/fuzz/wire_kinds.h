// tests/fuzz/wire_kinds.h
//
// The bodies fuzz_wire decodes, in the order its input's first byte picks
// them (byte % count), shared with the seed generator (make_seeds.cc):
// first the requests esd decodes (daemon/server.cc's kRoutes), then the
// replies and notices the client library decodes (lib/client).
#pragma once

#include "protocol/messages.h"

#define ES_FUZZ_WIRE_KINDS(X)               \
  X(es::AppendRequest)                      \
  X(es::ReadRequest)                        \
  X(es::protocol::StreamsRequest)           \
  X(es::protocol::CheckpointQuery)          \
  X(es::Checkpoint)                         \
  X(es::protocol::CheckpointRemoveRequest)  \
  X(es::protocol::GroupSyncRequest)         \
  X(es::protocol::ProjectionAddRequest)     \
  X(es::protocol::ProjectionControlRequest) \
  X(es::protocol::ProjectionQuery)          \
  X(es::protocol::ProjectionStateRequest)   \
  X(es::protocol::ReplicaReport)            \
  X(es::protocol::PromoteRequest)           \
  X(es::protocol::BackupRequest)            \
  X(es::protocol::Empty)                    \
  X(es::protocol::ErrorReply)               \
  X(es::protocol::HelloReply)               \
  X(es::AppendResult)                       \
  X(es::ReadResult)                         \
  X(es::protocol::StreamsReply)             \
  X(es::protocol::StatusReply)              \
  X(es::protocol::StopReply)                \
  X(es::protocol::CheckpointReply)          \
  X(es::protocol::CheckpointListReply)      \
  X(es::protocol::CheckpointRemoveReply)    \
  X(es::protocol::GroupSyncReply)           \
  X(es::protocol::ProjectionInfo)           \
  X(es::protocol::ProjectionListReply)      \
  X(es::protocol::ProjectionStateReply)     \
  X(es::protocol::PromoteReply)             \
  X(es::protocol::BackupReply)              \
  X(es::protocol::EventsNotice)             \
  X(es::protocol::HeartbeatNotice)

#include "protocol/messages.h"

#include <cstring>

#include "protocol/wire_archive.h"

namespace es::protocol {

ErrorReply ErrorReply::from(const Status& s) {
  ErrorReply r;
  r.code = static_cast<std::uint8_t>(s.code());
  r.message = s.message();
  if (s.actual_version()) {
    r.has_actual_version = true;
    r.actual_version = *s.actual_version();
  }
  return r;
}

Status ErrorReply::to_status() const {
  Code c = code <= static_cast<std::uint8_t>(Code::kStreamDeleted) ? static_cast<Code>(code)
                                                                   : Code::kProtocol;
  if (c == Code::kOk) c = Code::kProtocol;
  if (c == Code::kWrongExpectedVersion) {
    return Status::wrong_expected_version(
        message, has_actual_version ? std::optional<std::uint64_t>(actual_version) : std::nullopt);
  }
  return Status(c, message);
}

template <class T>
std::string encode(Kind kind, std::uint64_t request_id, const T& body) {
  std::string out;
  out.reserve(64);
  {
    wire::OutputArchive ar(out);
    ar(kMagic, kProtocolVersion, static_cast<std::uint8_t>(kind), request_id, body);
  }
  return out;
}

Result<Header> decode_header(std::string_view frame) {
  if (frame.size() < kHeaderBytes) {
    return Status::protocol("frame of " + std::to_string(frame.size()) +
                            " bytes is shorter than a header");
  }
  std::uint16_t magic = 0;
  Header h;
  std::uint8_t kind = 0;
  std::memcpy(&magic, frame.data(), 2);
  std::memcpy(&h.version, frame.data() + 2, 2);
  std::memcpy(&kind, frame.data() + 4, 1);
  std::memcpy(&h.request_id, frame.data() + 5, 8);
  if (magic != kMagic) return Status::protocol("frame does not start with the es magic bytes");
  h.kind = static_cast<Kind>(kind);
  if (h.version != kProtocolVersion) {
    return Status::protocol("protocol version " + std::to_string(h.version) +
                            " is not supported (this side speaks " +
                            std::to_string(kProtocolVersion) + ")");
  }
  return h;
}

template <class T>
Result<T> decode_body(std::string_view frame) {
  if (frame.size() < kHeaderBytes) return Status::protocol("frame is shorter than a header");
  T body;
  try {
    wire::InputArchive ar(frame.substr(kHeaderBytes));
    ar(body);
    if (ar.remaining() != 0)
      return Status::protocol("frame has " + std::to_string(ar.remaining()) + " trailing bytes");
  } catch (const std::exception& e) {
    return Status::protocol(std::string("malformed frame: ") + e.what());
  }
  return body;
}

#define ES_WIRE_TYPE(T)                                          \
  template std::string encode<T>(Kind, std::uint64_t, const T&); \
  template Result<T> decode_body<T>(std::string_view);

ES_WIRE_TYPE(Empty)
ES_WIRE_TYPE(ErrorReply)
ES_WIRE_TYPE(HelloReply)
ES_WIRE_TYPE(AppendRequest)
ES_WIRE_TYPE(AppendResult)
ES_WIRE_TYPE(ReadRequest)
ES_WIRE_TYPE(ReadResult)
ES_WIRE_TYPE(StreamsRequest)
ES_WIRE_TYPE(StreamsReply)
ES_WIRE_TYPE(StatusReply)
ES_WIRE_TYPE(StopReply)
ES_WIRE_TYPE(ReplicaReport)
ES_WIRE_TYPE(PromoteRequest)
ES_WIRE_TYPE(StreamRulesRequest)
ES_WIRE_TYPE(ForgetRequest)
ES_WIRE_TYPE(SubjectKeysRequest)
ES_WIRE_TYPE(SubjectKeysReply)
ES_WIRE_TYPE(PromoteReply)
ES_WIRE_TYPE(BackupRequest)
ES_WIRE_TYPE(BackupReply)
ES_WIRE_TYPE(EventsNotice)
ES_WIRE_TYPE(HeartbeatNotice)
ES_WIRE_TYPE(Checkpoint)
ES_WIRE_TYPE(CheckpointQuery)
ES_WIRE_TYPE(CheckpointReply)
ES_WIRE_TYPE(CheckpointListReply)
ES_WIRE_TYPE(CheckpointRemoveRequest)
ES_WIRE_TYPE(CheckpointRemoveReply)
ES_WIRE_TYPE(GroupSyncRequest)
ES_WIRE_TYPE(GroupSyncReply)
ES_WIRE_TYPE(ProjectionInfo)
ES_WIRE_TYPE(ProjectionAddRequest)
ES_WIRE_TYPE(ProjectionControlRequest)
ES_WIRE_TYPE(ProjectionQuery)
ES_WIRE_TYPE(ProjectionListReply)
ES_WIRE_TYPE(ProjectionStateRequest)
ES_WIRE_TYPE(ProjectionStateReply)

}  // namespace es::protocol

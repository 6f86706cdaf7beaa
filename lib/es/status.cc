#include "es/status.h"

namespace es {

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid-argument";
    case Code::kWrongExpectedVersion:
      return "wrong-expected-version";
    case Code::kNotFound:
      return "not-found";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kIOError:
      return "io-error";
    case Code::kCorruption:
      return "corruption";
    case Code::kDiskFull:
      return "disk-full";
    case Code::kBusy:
      return "busy";
    case Code::kDuplicateId:
      return "duplicate-id";
    case Code::kProtocol:
      return "protocol";
    case Code::kDiverged:
      return "diverged";
    case Code::kNotPrimary:
      return "not-primary";
    case Code::kPermissionDenied:
      return "permission-denied";
    case Code::kStreamDeleted:
      return "stream-deleted";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(code_name(code_)) + ": " + message_;
}

}  // namespace es

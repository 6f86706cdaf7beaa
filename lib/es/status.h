// es/status.h
//
// Status is the outcome of an operation at a module boundary: ok, or a Code
// with a message meant for people. Errors are values; exceptions are kept for
// bugs and for the two main()s. A conflict (wrong expected version) is
// routine and carries the version the stream actually had, so a caller can
// decide again without a read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace es {

enum class Code : std::uint8_t {
  kOk = 0,
  kInvalidArgument = 1,       // bad input: names what was wrong
  kWrongExpectedVersion = 2,  // optimistic concurrency conflict
  kNotFound = 3,              // no such stream
  kUnavailable = 4,           // server not reachable, timed out, stopping
  kIOError = 5,               // storage failed; fatal for the writer
  kCorruption = 6,            // stored bytes do not decode
  kDiskFull = 7,              // no room left; nothing was written
  kBusy = 8,                  // the resource is held by someone else
  kDuplicateId = 9,           // an event id is stored with other content or elsewhere
  kProtocol = 10,             // malformed or unsupported frame
  kDiverged = 11,             // a replica's log differs from its primary's
  kNotPrimary = 12,           // a write sent to a replica: the message names the primary
  kPermissionDenied =
      13,               // the client's key is not allowed, or its role does not cover the request
  kStreamDeleted = 14,  // the stream was deleted (es delete): read as gone, or never written again
};

const char* code_name(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }
  static Status invalid(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status not_found(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status io_error(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status protocol(std::string m) { return {Code::kProtocol, std::move(m)}; }
  static Status denied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  // `actual` is the stream's last version, or nullopt when it does not exist.
  static Status wrong_expected_version(std::string m, std::optional<std::uint64_t> actual) {
    Status s(Code::kWrongExpectedVersion, std::move(m));
    s.actual_version_ = actual;
    return s;
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::optional<std::uint64_t> actual_version() const { return actual_version_; }
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::optional<std::uint64_t> actual_version_;
};

}  // namespace es

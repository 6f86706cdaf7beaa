// es/event.h
//
// Events as they are proposed by a client and as they are recorded.
// `data` and `metadata` hold JSON text, already validated and minified
// (es/json.h); an empty `metadata` means "none".
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "es/types.h"
#include "es/uuid.h"

namespace es {

struct ProposedEvent {
  std::string stream;
  Uuid id;
  std::string type;
  std::string data;
  std::string metadata;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(stream, id.bytes, type, data, metadata);
  }
};

// The chain digest at an event (es/digest.h).
using Chain = std::array<std::uint8_t, 16>;

struct RecordedEvent {
  Position position = 0;
  std::string stream;
  Version version = 0;
  Uuid id;
  std::string type;
  std::int64_t time_us = 0;  // commit time, microseconds since the Unix epoch
  std::string data;
  std::string metadata;
  Chain chain{};  // the log's digest up to and including this event
  // A hole: the event was removed (es delete, retention). Only its
  // position, stream, version, time and chain are kept; type, data,
  // metadata and id are empty. Reads skip holes; replication copies them.
  bool removed = false;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(position, stream, version, id.bytes, type, time_us, data, metadata, chain, removed);
  }
};

// An expectation on one stream of an append.
struct StreamExpectation {
  std::string stream;
  ExpectedVersion expected;

  template <class Archive>
  void save(Archive& ar) const {
    ar(stream, static_cast<std::uint8_t>(expected.kind()), expected.version());
  }
  template <class Archive>
  void load(Archive& ar);
};

// One append: its events, possibly over several streams, are written
// all-or-nothing, in order. Streams without an expectation take `any`.
struct AppendRequest {
  std::vector<ProposedEvent> events;
  std::vector<StreamExpectation> expectations;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(events, expectations);
  }
};

// What an append did to one stream (streams in order of first appearance).
struct StreamWritten {
  std::string stream;
  std::uint64_t count = 0;
  Version first_version = 0;
  Version last_version = 0;
  Position first_position = 0;
  Position last_position = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(stream, count, first_version, last_version, first_position, last_position);
  }
};

struct AppendResult {
  std::vector<StreamWritten> streams;
  bool already_stored = false;  // an idempotent retry: nothing was written

  template <class Archive>
  void serialize(Archive& ar) {
    ar(streams, already_stored);
  }
};

// A read of one stream (by version) or of the whole log (by position).
struct ReadRequest {
  std::string stream;      // empty: the whole log
  std::uint64_t from = 0;  // version, or position; see from_end
  bool from_end = false;   // start at the last event (with backwards)
  bool backwards = false;
  std::uint32_t limit = 1000;
  std::vector<std::string> types;  // any of these; empty: all
  std::string category;            // whole log only; empty: all
  // Whole log only: every record, holes and events that deletion or
  // retention hides included (replication, es verify). Replica role.
  bool raw = false;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(stream, from, from_end, backwards, limit, types, category, raw);
  }
  bool matches(const RecordedEvent& e) const;
};

struct ReadResult {
  std::vector<RecordedEvent> events;
  // Where the next page starts (a version or position), and whether the
  // read reached the end of what is stored.
  std::uint64_t next = 0;
  bool end = true;
  Position head = 0;  // the store's last position when read

  template <class Archive>
  void serialize(Archive& ar) {
    ar(events, next, end, head);
  }
};

struct StreamInfo {
  std::string stream;
  Version last_version = 0;
  Position last_position = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(stream, last_version, last_position);
  }
};

// A named subscription's checkpoint: the last position its consumer has
// written out (0: none yet). It only moves forward, until it is removed.
struct Checkpoint {
  std::string name;
  Position position = 0;
  // In a commit group (Store::append_group): delete the checkpoint instead
  // of moving it. Not part of the wire encoding.
  bool remove = false;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, position);
  }
};

template <class Archive>
void StreamExpectation::load(Archive& ar) {
  std::uint8_t kind = 0;
  Version v = 0;
  ar(stream, kind, v);
  switch (static_cast<ExpectedVersion::Kind>(kind)) {
    case ExpectedVersion::Kind::kAny:
      expected = ExpectedVersion::any();
      break;
    case ExpectedVersion::Kind::kNoStream:
      expected = ExpectedVersion::no_stream();
      break;
    case ExpectedVersion::Kind::kExists:
      expected = ExpectedVersion::exists();
      break;
    case ExpectedVersion::Kind::kExact:
      expected = ExpectedVersion::exact(v);
      break;
    default:
      throw std::runtime_error("unknown expected-version kind");
  }
}

}  // namespace es

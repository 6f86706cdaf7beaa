// es/projection.h
//
// A Projection folds events into read-model states, one per partition, with
// reducers written in jq (libjq). Its file is a jq program that defines some
// of these (the rest take their defaults):
//
//   def from: {category: "order", types: ["OrderPlaced"]};  # default: every event
//             # also stream: S, streams: [..], categories: [..]; each list means "any of"
//   def key:  .data.product;          # an event's partition, a string (or empty:
//                                     # the event is left out); default: .stream
//   def init: {quantity: 0, total: 0}; # a partition's first state; default: null
//   def when: ...;                    # {state, event} -> the new state
//   def when_OrderPlaced: ...;        # the same for one type; wins over `when`
//
// Events look as `es read` prints them (position, stream, version, id,
// type, time, data, metadata). An event whose type has no reducer leaves its
// partition as it is. Every partition's state is its own jq value, so the
// cost of an event does not grow with the number of partitions. Applying the
// same events gives the same states, byte for byte.
//
// A reducer that fails, or a key that is not a string, fails apply() with an
// error naming the event's position and jq's message; the states are then as
// they were before that event.
//
// Thread safety: a Projection belongs to one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "es/event.h"
#include "es/result.h"

namespace es {

// Which events a projection reads (its `from`): an event matches when its
// stream is one of `streams` (or one of `categories`' streams), and its type
// one of `types`; an empty list does not narrow.
struct ProjectionSource {
  std::vector<std::string> streams;
  std::vector<std::string> categories;
  std::vector<std::string> types;
  bool matches(const RecordedEvent& e) const;
  // What to ask the node for: one stream or one category narrows the read;
  // more are filtered here (empty: any).
  std::string read_stream() const;
  std::string read_category() const;
};

class Projection {
 public:
  // Reads and compiles a projection file; errors name the file and, for jq
  // syntax errors, the line. "builtin:by-category", "builtin:by-type" and
  // "builtin:counts" are the built-in projections (see builtin_names()).
  static Result<std::unique_ptr<Projection>> load(const std::string& path);
  // The name load() gives the projection of `path`: its file name without
  // extensions ("orders/totals.jq" -> "totals"; "builtin:counts" -> "counts").
  static std::string name_of(const std::string& path);
  // The jq program `path` names: the file's text, or a built-in's.
  static Result<std::string> read_source(const std::string& path);
  // The built-in projections: name and what each gives.
  static std::vector<std::pair<std::string, std::string>> builtin_names();
  static Result<std::unique_ptr<Projection>> compile(const std::string& source,
                                                     const std::string& name);
  ~Projection();
  Projection(const Projection&) = delete;
  Projection& operator=(const Projection&) = delete;

  const std::string& name() const { return name_; }
  const ProjectionSource& source() const { return source_; }
  // The types that have a reducer of their own (when_<Type>).
  const std::vector<std::string>& typed_reducers() const { return typed_; }

  // Folds one event in (events must come in position order).
  Status apply(const RecordedEvent& event);

  Position position() const { return position_; }  // the last event applied
  std::uint64_t applied() const { return applied_; }
  std::size_t partitions() const;
  // A partition's state as compact JSON; nullopt when it has none.
  std::optional<std::string> state(const std::string& key) const;
  // Every partition in key order (bytewise): fn(key, state as JSON).
  void for_each(const std::function<void(const std::string&, const std::string&)>& fn) const;

  // For a host that keeps the states elsewhere: puts back a partition's
  // stored state and the position it was stored at.
  Status restore(const std::string& key, const std::string& state_json);
  void restore_position(Position position) { position_ = position; }
  // The partitions changed since the last call, with their states as JSON.
  std::vector<std::pair<std::string, std::string>> take_changed();

 private:
  struct Impl;
  explicit Projection(std::string name);

  std::string name_;
  ProjectionSource source_;
  std::vector<std::string> typed_;
  Position position_ = 0;
  std::uint64_t applied_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace es

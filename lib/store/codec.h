// store/codec.h (private)
//
// The value of a "log" record (the key is the position):
//   record   := body chain:16
//   body     := format:u8 stream version:u64le id:16 time_us:i64le type data metadata
//   stream, type, data, metadata := length:u32le bytes
// format is kRecordFormat; chain is es/digest.h's chain over the body.
// A hole (an event removed by deletion or retention) is
//   hole     := kHoleFormat:u8 stream version:u64le chain:16
// (read back with a nil id, no time, empty type, data and metadata); its
// chain is the removed event's, kept as it was (the body it digests is
// gone), so that the chain of every event after it is still checked
// against its own bytes.
// (Format 1, before chains, is not read: Store::open refuses it.) Decoding
// checks every length against the bytes left and reports kCorruption rather
// than reading past the end.
#pragma once

#include <string>
#include <string_view>

#include "es/event.h"

namespace es::store {

inline constexpr std::uint8_t kRecordFormat = 2;
inline constexpr std::uint8_t kHoleFormat = 3;
inline constexpr std::size_t kChainBytes = sizeof(Chain);

// Writes the body of `e` (no chain) to `out`: a hole's when `e.removed`.
void encode_record(const RecordedEvent& e, std::string* out);
// Decodes the fields of `value` (a whole record) into `e`; `e.position` is
// left alone.
Status decode_record(std::string_view value, RecordedEvent* e);

// What LMDB's indexes need of a record, without copying its data.
struct RecordKeys {
  std::string_view stream;
  Version version = 0;
  Uuid id;
  std::int64_t time_us = 0;
  Chain chain{};
  bool removed = false;   // a hole
  std::string_view body;  // the record without its chain
};
Status decode_keys(std::string_view value, RecordKeys* k);

}  // namespace es::store

// store/codec.h (private)
//
// The value of a "log" record (the key is the position):
//   record   := format:u8 stream version:u64le id:16 time_us:i64le type data metadata
//   stream, type, data, metadata := length:u32le bytes
// format is kRecordFormat. Decoding checks every length against the bytes
// left and reports kCorruption rather than reading past the end.
#pragma once

#include <string>
#include <string_view>

#include "es/event.h"

namespace es::store {

inline constexpr std::uint8_t kRecordFormat = 1;

void encode_record(const RecordedEvent& e, std::string* out);
// Decodes the fields of `value` into `e`; `e.position` is left alone.
Status decode_record(std::string_view value, RecordedEvent* e);

}  // namespace es::store

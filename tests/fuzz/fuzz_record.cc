// tests/fuzz/fuzz_record.cc
//
// libFuzzer harness for the store's log records (store/codec.h): what
// decode_record and decode_keys read from LMDB, a journal frame or a
// backup. Each reports kCorruption or decodes; decode_keys checks only the
// lengths it reads (the chain covers the rest), so a record decode_record
// takes must be taken by decode_keys alike, and must encode back to its body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  es::RecordedEvent e;
  const es::Status record = es::store::decode_record(value, &e);
  es::store::RecordKeys k;
  const es::Status keys = es::store::decode_keys(value, &k);
  if (!record.ok()) return 0;
  if (!keys.ok()) std::abort();
  if (k.stream != e.stream || k.version != e.version || k.time_us != e.time_us) std::abort();
  std::string body;
  es::store::encode_record(e, &body);
  if (body != k.body) std::abort();
  return 0;
}

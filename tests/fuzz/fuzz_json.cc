// tests/fuzz/fuzz_json.cc
//
// libFuzzer harness for JSON at the edges (es/json.h): an NDJSON line of
// `es append` (parse_event_fields) and the canonical JSON checker and
// canonicalizer every event's data and metadata pass through, in esd and
// in es. The input's first byte picks the entry point and the shape. Checks
// the canonicalizer's promises: what is_canonical_json takes comes back
// unchanged, canonicalizing twice changes nothing, and nothing with a NUL
// byte is taken (RapidJSON would stop there and drop the rest unseen).
// (is_canonical_json may turn down canonical text it leaves to the
// canonicalizer, such as large exponents: it is not checked on the output.)
// A first byte from 0xf0 picks the JSON of stream rules (es/stream_rules.h:
// parse, patch, and the canonical form back) and of sealed data
// (es/sealed.h: a metadata's $subject, unsealing what a primary sent, and
// sealing any data and opening it again).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "es/json.h"
#include "es/sealed.h"
#include "es/stream_rules.h"

namespace {

constexpr std::size_t kMaxBytes = 1 << 16;

void canonical(std::string_view text, es::JsonShape shape) {
  const bool was = es::is_canonical_json(text, shape);
  auto out = es::canonical_json(text, "data", kMaxBytes, shape);
  if (!out.ok()) {
    if (was && text.size() <= kMaxBytes) std::abort();  // canonical, yet refused
    return;
  }
  if (text.find('\0') != std::string_view::npos) std::abort();
  if (was && *out != text) std::abort();
  auto again = es::canonical_json(*out, "data", kMaxBytes, shape);
  if (!again.ok() || *again != *out) std::abort();
}

void rules(std::string_view text) {
  auto r = es::parse_rules(text);
  if (r.ok()) {
    auto back = es::parse_rules(es::rules_json(*r));
    if (!back.ok() || !(*back == *r)) std::abort();
  }
  es::StreamRules base;
  base.truncate_before = 3;
  base.max_count = 10;
  (void)es::patch_rules(base, text);
}

void sealed(std::string_view text) {
  (void)es::subject_of(text);
  es::SubjectKey key{};
  key[0] = 1;
  const es::Uuid id{};
  (void)es::unseal(key, "user-3", id, text);
  const std::string box = es::seal(key, "user-3", id, text);
  auto opened = es::unseal(key, "user-3", id, box);
  if (!opened || *opened != text) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] >= 0xf0) {
    if (data[0] & 1) {
      sealed(text);
    } else {
      rules(text);
    }
    return 0;
  }
  switch (data[0] % 3) {
    case 0:
      if (es::parse_event_fields(text).ok() && text.find('\0') != std::string_view::npos)
        std::abort();
      break;
    case 1:
      canonical(text, es::JsonShape::kAnyValue);
      break;
    default:
      canonical(text, es::JsonShape::kObject);
      break;
  }
  return 0;
}

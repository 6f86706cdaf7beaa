#include "projection/builtins.h"

namespace es::projection {

namespace {

// The category of a stream: its name up to the first '-' (es/types.h).
constexpr const char* kCategoryDef =
    "def category: .stream | (index(\"-\") // length) as $i | .[:$i];\n";

constexpr Builtin kBuiltins[] = {
    {"by-category",
     "streams and events per category (a stream's first event, version 0, counts it)",
     "def key: category;\n"
     "def init: {streams: 0, events: 0, last_position: 0};\n"
     "def when: .event as $e | .state\n"
     "  | .events = .events + 1\n"
     "  | .streams = .streams + (if $e.version == 0 then 1 else 0 end)\n"
     "  | .last_position = $e.position;\n"},
    {"by-type", "events per type, with the first and last position of each",
     "def key: .type;\n"
     "def init: {events: 0, first_position: null, last_position: 0};\n"
     "def when: .event.position as $p | .state\n"
     "  | .events = .events + 1\n"
     "  | .first_position = (.first_position // $p)\n"
     "  | .last_position = $p;\n"},
    {"counts", "one partition, \"all\": events and streams in the whole log",
     "def key: \"all\";\n"
     "def init: {streams: 0, events: 0, last_position: 0};\n"
     "def when: .event as $e | .state\n"
     "  | .events = .events + 1\n"
     "  | .streams = .streams + (if $e.version == 0 then 1 else 0 end)\n"
     "  | .last_position = $e.position;\n"},
};

}  // namespace

std::span<const Builtin> builtins() { return kBuiltins; }

std::optional<std::string> builtin_source(std::string_view name) {
  for (const auto& b : kBuiltins) {
    if (name == b.name) return std::string(kCategoryDef) + b.source;
  }
  return std::nullopt;
}

}  // namespace es::projection

// projection/builtins.h (private)
//
// The projections every node has without anyone writing one, as the anchors'
// system projections: by-category, by-type and counts. A projection file
// named "builtin:<name>" is one of these (es/projection.h, Projection::load).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace es::projection {

struct Builtin {
  const char* name;
  const char* what;
  const char* source;  // jq, after the shared definitions
};

std::span<const Builtin> builtins();
// The whole jq program of a built-in projection; nullopt for another name.
std::optional<std::string> builtin_source(std::string_view name);

}  // namespace es::projection

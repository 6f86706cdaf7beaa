// es/suggest.h
//
// "Did you mean ...?": the known word nearest a mistyped one (edit
// distance, counting a swap of two neighbours as one edit), for the
// command line's unknown commands and append's unknown NDJSON keys.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace es {

// The edit distance between `a` and `b` (insertions, deletions,
// substitutions and swaps of adjacent characters).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest `word` if it is near enough to be what was meant
// (at most 2 edits, and fewer than half the word's length); else empty.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace es

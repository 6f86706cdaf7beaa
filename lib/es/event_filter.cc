#include "es/event_filter.h"

#include <algorithm>

#include "es/types.h"

namespace es {
namespace {

bool contains(std::span<const std::string> list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

bool EventFilter::matches(const RecordedEvent& e) const {
  if (!types.empty() && !contains(types, e.type)) return false;
  if (streams.empty() && categories.empty()) return true;
  return contains(streams, e.stream) || contains(categories, category_of(e.stream));
}

}  // namespace es

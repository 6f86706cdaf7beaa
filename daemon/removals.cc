#include "removals.h"

#include "es/sealed.h"
#include "es/stream_rules.h"

namespace esd {

std::vector<std::string> removals_in(const std::vector<es::RecordedEvent>& events) {
  std::vector<std::string> removed;
  for (const auto& e : events) {
    if (es::is_metadata_stream(e.stream) &&
        (e.type == es::kDeletedType || e.type == es::kTombstoneType))
      removed.emplace_back(es::target_of(e.stream));
    if (es::forgotten_subject(e)) removed.emplace_back("of a forgotten subject");
  }
  return removed;
}

std::vector<std::string> removal_types() {
  return {std::string(es::kDeletedType), std::string(es::kTombstoneType),
          std::string(es::kForgottenType)};
}

}  // namespace esd

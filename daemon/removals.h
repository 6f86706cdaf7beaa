// daemon/removals.h
//
// What a run of committed events removes from a node's projections: the
// streams they delete (es delete, es delete --hard: a $deleted or
// $tombstone event of a $$stream) and the subjects they forget (es forget:
// a $forgotten event of $subjects). A node that commits such an event, and
// a read node that finds one in its source's log (daemon/source_link.h),
// rebuilds its running projections without them
// (ProjectionHost::rebuild_without). Retention rules ($metadata) do not
// rebuild: a projection keeps what it folded in before they hid it.
#pragma once

#include <string>
#include <vector>

#include "es/event.h"

namespace esd {

// One entry per removal in `events`, for the log: a stream's name, or "of
// a forgotten subject" (its name is what must go). Empty: none.
std::vector<std::string> removals_in(const std::vector<es::RecordedEvent>& events);

// The event types removals_in looks for, as a read's type filter.
std::vector<std::string> removal_types();

}  // namespace esd

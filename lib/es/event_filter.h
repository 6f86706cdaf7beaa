// es/event_filter.h
//
// Which events a reader wants, the one test that reads (ReadRequest),
// subscriptions (SubscriptionFilter) and projection sources
// (ProjectionSource) all make: an event matches when its type is one of
// `types`, and its stream is one of `streams` or of `categories` (a
// stream's category is its name up to the first '-'). An empty list does
// not narrow; with neither streams nor categories, every stream matches.
// A view: the lists belong to the caller.
#pragma once

#include <span>
#include <string>

#include "es/event.h"

namespace es {

struct EventFilter {
  std::span<const std::string> streams;
  std::span<const std::string> categories;
  std::span<const std::string> types;

  // A one-element list of `s`, or none when `s` is empty.
  static std::span<const std::string> one(const std::string& s) {
    return s.empty() ? std::span<const std::string>() : std::span<const std::string>(&s, 1);
  }
  bool matches(const RecordedEvent& e) const;
};

}  // namespace es

// es/group.h
//
// Competing consumers: the members of a named group split the log between
// them by stream, so that each stream's events go, in order, to one member
// at a time. A stream belongs to one of kGroupSlots slots (a hash of its
// name), and the node hands slots to members:
//   - each member syncs with the node every few hundred milliseconds
//     (kGroupSync), sending the checkpoint of every slot it holds; the node
//     commits those (only from the slot's holder) and answers with the slots
//     the member holds from then on, each with its stored checkpoint;
//   - slots are spread evenly over the members, sorted by id (slot k goes to
//     member k mod n). When members join or leave, a slot moves only after
//     its holder has let it go (its last checkpoint committed), or after the
//     holder's lease ran out (no sync for lease_ms): so a stream is never
//     delivered by two members at once, and a clean hand-over neither loses
//     nor repeats an event. A member that dies loses its lease; whatever it
//     delivered after its last checkpoint is delivered again (at least once).
//   - a member that has not synced for half a lease stops delivering until it
//     has (it may have been paused, and its slots given away).
// Checkpoints live in the store under the reserved names "$group/<G>/<k>".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace es {

inline constexpr std::uint16_t kGroupSlots = 64;
inline constexpr std::uint32_t kGroupLeaseMs = 5000;

// FNV-1a (64-bit) of the stream name, modulo kGroupSlots: stable across
// versions and machines, as it decides who gets which stream.
inline std::uint16_t group_slot(std::string_view stream) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : stream) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<std::uint16_t>(h % kGroupSlots);
}

inline std::string group_checkpoint_name(std::string_view group, std::uint16_t slot) {
  return "$group/" + std::string(group) + "/" + std::to_string(slot);
}

}  // namespace es

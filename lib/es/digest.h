// es/digest.h
//
// The chain digest: every stored event carries a 16-byte BLAKE2b hash of
// its predecessor's chain and its own record (position, stream, version,
// id, time, type, data, metadata), so the chain at position P digests the
// whole log up to P. Two stores that hold the same events at the same
// positions have the same chain at every position; any difference, however
// old, shows in every chain after it. A replica compares each event it
// copies with the chain its primary sent, and `es verify` recomputes it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "es/event.h"

namespace es {

// The chain before the first event (position 0): all zero.
inline constexpr Chain kChainStart{};

// The chain at `e.position`, given the chain before it. `e.chain` is ignored.
Chain chain_next(const Chain& previous, const RecordedEvent& e);
// The same from the event's canonical record bytes (store/codec.h), without
// re-encoding: what the store uses.
Chain chain_next(const Chain& previous, Position position, std::string_view record);

std::string to_hex(const Chain& chain);

// Walks a log from position 1 and checks that every event comes at the
// next position and carries the chain its bytes give: what `es verify`
// does offline (over stored records) and online (over events a node sends).
class ChainVerifier {
 public:
  // The event at `position` carries `stored`; `computed` is chain_next of
  // chain() and its record. kCorruption names the position that is wrong.
  Status next(Position position, const Chain& stored, const Chain& computed);
  // A hole (an event removed by deletion or retention) at `position`: its
  // bytes are gone, so its chain is taken as stored, and the next event is
  // checked against it.
  Status hole(Position position, const Chain& stored);
  // The same for an event as a node sends it (a hole or not).
  Status next(const RecordedEvent& e);
  Position head() const { return head_; }  // the last position checked
  const Chain& chain() const { return chain_; }
  std::uint64_t holes() const { return holes_; }

 private:
  Position head_ = 0;
  std::uint64_t holes_ = 0;
  Chain chain_ = kChainStart;
};

}  // namespace es

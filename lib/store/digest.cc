#include "es/digest.h"

#include "store/codec.h"

#include <sodium.h>

namespace es {

Chain chain_next(const Chain& previous, Position position, std::string_view record) {
  static const bool initialized = sodium_init() >= 0;  // picks the fastest BLAKE2b code
  (void)initialized;
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, sizeof(Chain));
  std::uint8_t pos[8];
  for (int i = 0; i < 8; ++i) pos[i] = static_cast<std::uint8_t>(position >> (8 * i));
  crypto_generichash_update(&state, previous.data(), previous.size());
  crypto_generichash_update(&state, pos, sizeof pos);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(record.data()),
                            record.size());
  Chain out;
  crypto_generichash_final(&state, out.data(), out.size());
  return out;
}

Chain chain_next(const Chain& previous, const RecordedEvent& e) {
  thread_local std::string record;
  store::encode_record(e, &record);
  return chain_next(previous, e.position, record);
}

Status ChainVerifier::next(Position position, const Chain& stored, const Chain& computed) {
  if (position != head_ + 1) {
    return Status::corruption("position " + std::to_string(head_ + 1) +
                              " is missing from the log (the next one is " +
                              std::to_string(position) + ")");
  }
  if (computed != stored) {
    return Status::corruption(
        "position " + std::to_string(position) + ": the stored chain digest is " + to_hex(stored) +
        ", its bytes give " + to_hex(computed) + ": the event or one before it was altered");
  }
  head_ = position;
  chain_ = computed;
  return {};
}

Status ChainVerifier::hole(Position position, const Chain& stored) {
  ES_RETURN_IF_ERROR(next(position, stored, stored));
  ++holes_;
  return {};
}

Status ChainVerifier::next(const RecordedEvent& e) {
  if (e.removed) return hole(e.position, e.chain);
  return next(e.position, e.chain, chain_next(chain_, e));
}

std::string to_hex(const Chain& chain) {
  static const char* const kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(chain.size() * 2);
  for (std::uint8_t b : chain) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

}  // namespace es

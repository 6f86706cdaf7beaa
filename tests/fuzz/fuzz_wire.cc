// tests/fuzz/fuzz_wire.cc
//
// libFuzzer harness for the wire protocol (protocol/messages.h): what esd
// decodes from any client (the request bodies of daemon/server.cc's
// kRoutes) and what the client library decodes from a node (replies and
// published notices). The input's first byte picks the body kind; the rest
// is the frame, header included, as it came off the socket. Decoding must
// return a value or Code::kProtocol, never crash, and a decoded body must
// encode again.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/messages.h"
#include "wire_kinds.h"

namespace {

using namespace es::protocol;

template <class T>
void decode(std::string_view frame) {
  auto body = decode_body<T>(frame);
  if (body.ok()) (void)encode(Kind::kError, 0, *body);
}

// ErrorReply becomes a Status in the client: any code byte must map.
template <>
void decode<ErrorReply>(std::string_view frame) {
  auto body = decode_body<ErrorReply>(frame);
  if (body.ok()) (void)body->to_status();
}

using Decoder = void (*)(std::string_view);
#define ES_FUZZ_DECODER(T) decode<T>,
constexpr Decoder kDecoders[] = {ES_FUZZ_WIRE_KINDS(ES_FUZZ_DECODER)};
#undef ES_FUZZ_DECODER
constexpr std::size_t kKinds = sizeof kDecoders / sizeof kDecoders[0];

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view frame(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)decode_header(frame);  // every frame meets it first
  kDecoders[data[0] % kKinds](frame);
  return 0;
}

// es/endpoint.h
//
// ZeroMQ endpoints as people write them and as nodes give them to each
// other. parse_endpoint() is the one place an endpoint given on a command
// line (es -s, $ES_SERVER, esd --listen/--publish/--follow/--project-from,
// es nodes) is taken apart and checked, so that a typo is refused naming
// what is wrong instead of reaching ZeroMQ (which says "Invalid argument",
// or silently binds another port).
//
// A node that binds every address (tcp://0.0.0.0:P, tcp://*:P,
// tcp://[::]:P) can only be reached through a host the other side knows:
// the one a client connected to, or the address a message came from.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "es/result.h"

namespace es {

// What an endpoint is for: a connect needs a host and a port; a bind also
// takes the host * (every address) and the port * or 0 (any free port).
enum class EndpointUse { kConnect, kBind };

struct Endpoint {
  enum class Transport { kTcp, kIpc };
  Transport transport = Transport::kTcp;
  std::string host;        // tcp: a name, IPv4, [IPv6] (with brackets) or *
  std::uint16_t port = 0;  // tcp: 1 to 65535; 0 for any free port (bind)
  std::string path;        // ipc: the socket's path
};

// Parses "tcp://HOST:PORT" or "ipc://PATH"; anything else is refused with
// kInvalidArgument and a message that quotes `text` and says what is wrong
// (no transport, an unknown one, no host, no port, a port out of range...).
Result<Endpoint> parse_endpoint(std::string_view text, EndpointUse use);

// The host of a tcp:// endpoint ("127.0.0.1", "[::1]", "*"); empty for
// other transports.
std::string endpoint_host(const std::string& endpoint);

// Whether binding `endpoint` serves this host only: ipc://, or tcp:// on a
// loopback address (127.0.0.0/8, [::1], localhost). A wildcard, any other
// address, a host name or an interface name is not: other hosts may reach it.
bool binds_loopback_only(const std::string& endpoint);

// `endpoint` with its wildcard host replaced by `host` (brackets added to an
// IPv6 address); any other endpoint, or an empty `host`, unchanged.
std::string reachable_endpoint(const std::string& endpoint, const std::string& host);

}  // namespace es

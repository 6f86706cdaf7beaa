// es/endpoint.h
//
// ZeroMQ endpoints as nodes give them to each other. A node that binds every
// address (tcp://0.0.0.0:P, tcp://*:P, tcp://[::]:P) can only be reached
// through a host the other side knows: the one a client connected to, or
// the address a message came from.
#pragma once

#include <string>

namespace es {

// The host of a tcp:// endpoint ("127.0.0.1", "[::1]", "*"); empty for
// other transports.
std::string endpoint_host(const std::string& endpoint);

// `endpoint` with its wildcard host replaced by `host` (brackets added to an
// IPv6 address); any other endpoint, or an empty `host`, unchanged.
std::string reachable_endpoint(const std::string& endpoint, const std::string& host);

}  // namespace es

// daemon/http_address.h
//
// The address --http-listen takes, parsed: its own module so that what
// checks settings (settings.h) needs no HTTP server.
#pragma once

#include <string>

#include "es/result.h"

namespace esd {

// An --http-listen address: [HOST:]PORT; HOST may be an IPv6 address in
// brackets. A bare port is 127.0.0.1's.
struct HttpAddress {
  std::string host = "127.0.0.1";
  int port = 0;
  // Whether only this machine can reach it (127.0.0.0/8, ::1, localhost).
  bool loopback() const;
  std::string to_string() const;
};
es::Result<HttpAddress> parse_http_address(const std::string& text);

}  // namespace esd

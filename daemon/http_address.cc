#include "http_address.h"

namespace esd {

bool HttpAddress::loopback() const {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string HttpAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

es::Result<HttpAddress> parse_http_address(const std::string& text) {
  HttpAddress a;
  std::string port = text;
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    a.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
      a.host = a.host.substr(1, a.host.size() - 2);
    if (a.host.empty()) return es::Status::invalid("'" + text + "': the host is empty");
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
    return es::Status::invalid("'" + text + "': expected [HOST:]PORT, PORT a number");
  a.port = std::stoi(port);
  if (a.port > 65535) return es::Status::invalid("'" + text + "': the port is at most 65535");
  return a;
}

}  // namespace esd

#include "es/endpoint.h"

namespace es {
namespace {
constexpr std::string_view kTcp = "tcp://";
}  // namespace

std::string endpoint_host(const std::string& endpoint) {
  if (endpoint.rfind(kTcp, 0) != 0) return {};
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon < kTcp.size()) return {};
  return endpoint.substr(kTcp.size(), colon - kTcp.size());
}

std::string reachable_endpoint(const std::string& endpoint, const std::string& host) {
  const std::string current = endpoint_host(endpoint);
  if (host.empty() || (current != "0.0.0.0" && current != "*" && current != "[::]"))
    return endpoint;
  const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
  return std::string(kTcp) + (ipv6 ? "[" + host + "]" : host) +
         endpoint.substr(endpoint.rfind(':'));
}

}  // namespace es

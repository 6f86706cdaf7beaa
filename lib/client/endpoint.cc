#include "es/endpoint.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace es {
namespace {

constexpr std::string_view kTcp = "tcp://";
constexpr std::string_view kIpc = "ipc://";
constexpr std::string_view kForms = "tcp://HOST:PORT or ipc://PATH";

Status bad(std::string_view text, const std::string& what) {
  return Status::invalid("endpoint '" + std::string(text) + "': " + what);
}

// A host name or an IPv4 address (ZeroMQ also binds interface names, which
// look the same).
bool host_name(std::string_view host) {
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_';
  });
}

bool ipv6_literal(std::string_view inner) {
  return !inner.empty() && std::all_of(inner.begin(), inner.end(), [](unsigned char c) {
    return std::isxdigit(c) != 0 || c == ':' || c == '.' || c == '%';
  }) && inner.find(':') != std::string_view::npos;
}

Result<std::uint16_t> parse_port(std::string_view text, std::string_view port, EndpointUse use) {
  const std::string range = use == EndpointUse::kBind
                                ? "a port is 1 to 65535, or * (or 0) for any free port"
                                : "a port is 1 to 65535";
  if (use == EndpointUse::kBind && (port == "*" || port == "0")) return std::uint16_t{0};
  if (port.empty()) return bad(text, "no port after the ':' (" + range + ")");
  if (port.size() > 6 || !std::all_of(port.begin(), port.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return bad(text, "the port '" + std::string(port) + "' is not a number (" + range + ")");
  }
  const unsigned long n = std::stoul(std::string(port));
  if (n < 1 || n > 65535) {
    return bad(text, "the port " + std::to_string(n) + " is out of range (" + range + ")");
  }
  return static_cast<std::uint16_t>(n);
}

Result<Endpoint> parse_tcp(std::string_view text, EndpointUse use) {
  Endpoint e;
  std::string_view rest = text.substr(kTcp.size());
  if (rest.empty()) return bad(text, "no host and port (" + std::string(kForms) + ")");
  std::string_view host, port;
  bool has_port = false;
  if (rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return bad(text, "no ']' after the IPv6 address");
    host = rest.substr(0, close + 1);
    if (!ipv6_literal(host.substr(1, host.size() - 2)))
      return bad(text, "'" + std::string(host) + "' is not an IPv6 address");
    std::string_view after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      return bad(text, "':PORT' must follow the IPv6 address");
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
  } else {
    const auto colon = rest.rfind(':');
    if (colon != std::string_view::npos && rest.find(':') != colon)
      return bad(text, "an IPv6 address goes in brackets: tcp://[ADDRESS]:PORT");
    has_port = colon != std::string_view::npos;
    host = rest.substr(0, has_port ? colon : rest.size());
    if (has_port) port = rest.substr(colon + 1);
    if (host.empty()) return bad(text, "no host before the port");
    if (host == "*") {
      if (use == EndpointUse::kConnect)
        return bad(text, "* (every address) is for binding; name the host to connect to");
    } else if (!host_name(host)) {
      return bad(text, "'" + std::string(host) + "' is not a host name or address");
    }
  }
  if (!has_port) return bad(text, "no port (write tcp://" + std::string(host) + ":PORT)");
  auto p = parse_port(text, port, use);
  if (!p.ok()) return p.status();
  e.host = std::string(host);
  e.port = *p;
  return e;
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view text, EndpointUse use) {
  if (text.empty()) return Status::invalid("the endpoint is empty (" + std::string(kForms) + ")");
  if (text.rfind(kTcp, 0) == 0) return parse_tcp(text, use);
  if (text.rfind(kIpc, 0) == 0) {
    Endpoint e;
    e.transport = Endpoint::Transport::kIpc;
    e.path = std::string(text.substr(kIpc.size()));
    if (e.path.empty()) return bad(text, "no path after ipc://");
    return e;
  }
  const auto scheme = text.find("://");
  if (scheme == std::string_view::npos)
    return bad(text, "no transport (" + std::string(kForms) + ")");
  return bad(text, "unknown transport '" + std::string(text.substr(0, scheme)) + "' (" +
                       std::string(kForms) + ")");
}

std::string endpoint_host(const std::string& endpoint) {
  if (endpoint.rfind(kTcp, 0) != 0) return {};
  const auto colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon < kTcp.size()) return {};
  return endpoint.substr(kTcp.size(), colon - kTcp.size());
}

bool binds_loopback_only(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0) return true;
  const std::string host = endpoint_host(endpoint);
  if (host == "localhost" || host == "[::1]") return true;
  // 127.0.0.0/8, written as four numbers.
  unsigned a = 0, b = 0, c = 0, d = 0;
  char end = 0;
  return std::sscanf(host.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) == 4 && a == 127 &&
         b < 256 && c < 256 && d < 256;
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

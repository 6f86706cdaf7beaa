// Endpoints as nodes give them to each other (es/endpoint.h).
#include "es/endpoint.h"

#include <catch2/catch.hpp>

using es::endpoint_host;
using es::reachable_endpoint;

TEST_CASE("a wildcard host is replaced by the host the other side knows", "[endpoint]") {
  CHECK(reachable_endpoint("tcp://0.0.0.0:7151", "10.0.0.5") == "tcp://10.0.0.5:7151");
  CHECK(reachable_endpoint("tcp://*:7151", "esd-0.esd") == "tcp://esd-0.esd:7151");
  CHECK(reachable_endpoint("tcp://[::]:7151", "fe80::1") == "tcp://[fe80::1]:7151");
  CHECK(reachable_endpoint("tcp://[::]:7151", "[::1]") == "tcp://[::1]:7151");
}

TEST_CASE("other endpoints, or no host, are left alone", "[endpoint]") {
  CHECK(reachable_endpoint("tcp://127.0.0.1:7151", "10.0.0.5") == "tcp://127.0.0.1:7151");
  CHECK(reachable_endpoint("tcp://0.0.0.0:7151", "") == "tcp://0.0.0.0:7151");
  CHECK(reachable_endpoint("ipc:///run/esd.sock.pub", "10.0.0.5") == "ipc:///run/esd.sock.pub");
  CHECK(endpoint_host("tcp://127.0.0.1:7150") == "127.0.0.1");
  CHECK(endpoint_host("tcp://[::1]:7150") == "[::1]");
  CHECK(endpoint_host("ipc:///x") == "");
  CHECK(endpoint_host("tcp://nohostport") == "");
}

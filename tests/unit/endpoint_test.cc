// Endpoints as nodes give them to each other (es/endpoint.h).
#include "es/endpoint.h"

#include <catch2/catch.hpp>

using es::binds_loopback_only;
using es::endpoint_host;
using es::reachable_endpoint;

TEST_CASE("binds_loopback_only: ipc and loopback addresses, nothing else", "[endpoint]") {
  for (const char* local : {"ipc:///run/esd/esd.sock", "tcp://127.0.0.1:7150", "tcp://127.1.2.3:1",
                            "tcp://[::1]:7150", "tcp://localhost:7150", "tcp://127.0.0.1:*"})
    CHECK(binds_loopback_only(local));
  for (const char* open :
       {"tcp://0.0.0.0:7150", "tcp://*:7150", "tcp://[::]:7150", "tcp://10.0.0.5:7150",
        "tcp://eth0:7150", "tcp://db.example:7150", "tcp://127.0.0.1.example:7150",
        "tcp://128.0.0.1:7150", "tcp://127.0.0.300:7150"})
    CHECK_FALSE(binds_loopback_only(open));
}

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

TEST_CASE("parse_endpoint takes tcp and ipc endpoints apart", "[endpoint]") {
  using es::EndpointUse;
  auto tcp = es::parse_endpoint("tcp://127.0.0.1:7150", EndpointUse::kConnect);
  REQUIRE(tcp.ok());
  CHECK(tcp->transport == es::Endpoint::Transport::kTcp);
  CHECK(tcp->host == "127.0.0.1");
  CHECK(tcp->port == 7150);
  auto name = es::parse_endpoint("tcp://esd-0.esd.svc:65535", EndpointUse::kConnect);
  REQUIRE(name.ok());
  CHECK(name->host == "esd-0.esd.svc");
  auto v6 = es::parse_endpoint("tcp://[::1]:1", EndpointUse::kConnect);
  REQUIRE(v6.ok());
  CHECK(v6->host == "[::1]");
  CHECK(v6->port == 1);
  auto any = es::parse_endpoint("tcp://*:*", EndpointUse::kBind);
  REQUIRE(any.ok());
  CHECK(any->host == "*");
  CHECK(any->port == 0);
  CHECK(es::parse_endpoint("tcp://127.0.0.1:0", EndpointUse::kBind).ok());
  auto ipc = es::parse_endpoint("ipc:///run/esd.sock", EndpointUse::kConnect);
  REQUIRE(ipc.ok());
  CHECK(ipc->transport == es::Endpoint::Transport::kIpc);
  CHECK(ipc->path == "/run/esd.sock");
}

TEST_CASE("parse_endpoint refuses, saying what is wrong", "[endpoint]") {
  using es::EndpointUse;
  auto refused = [](std::string_view text, EndpointUse use = EndpointUse::kConnect) {
    auto r = es::parse_endpoint(text, use);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == es::Code::kInvalidArgument);
    return r.status().message();
  };
  CHECK_THAT(refused("nonsense"), Catch::Contains("no transport"));
  CHECK_THAT(refused("udp://h:1"), Catch::Contains("unknown transport 'udp'"));
  CHECK_THAT(refused("tcp://127.0.0.1"), Catch::Contains("no port"));
  CHECK_THAT(refused("tcp://127.0.0.1:"), Catch::Contains("no port"));
  CHECK_THAT(refused("tcp://127.0.0.1:99999"), Catch::Contains("99999 is out of range"));
  CHECK_THAT(refused("tcp://127.0.0.1:99999", EndpointUse::kBind),
             Catch::Contains("any free port"));
  CHECK_THAT(refused("tcp://127.0.0.1:0"), Catch::Contains("out of range"));
  CHECK_THAT(refused("tcp://127.0.0.1:*"), Catch::Contains("not a number"));
  CHECK_THAT(refused("tcp://127.0.0.1:-1"), Catch::Contains("not a number"));
  CHECK_THAT(refused("tcp://*:7150"), Catch::Contains("for binding"));
  CHECK_THAT(refused("tcp://::1:7150"), Catch::Contains("brackets"));
  CHECK_THAT(refused("tcp://[::1:7150"), Catch::Contains("']'"));
  CHECK_THAT(refused("tcp://a b:7150"), Catch::Contains("not a host name"));
  CHECK_THAT(refused("tcp://:7150"), Catch::Contains("no host"));
  CHECK_THAT(refused("ipc://"), Catch::Contains("no path"));
  CHECK_THAT(refused(""), Catch::Contains("empty"));
}

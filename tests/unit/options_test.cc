// The command line's option checks (cli/options.h) and suggestions
// (es/suggest.h).
#include "cli/options.h"

#include <catch2/catch.hpp>

#include "es/suggest.h"

namespace {

// What the validator says about `value` (empty: accepted).
std::string check(const CLI::Validator& v, std::string value) {
  try {
    return v(value);
  } catch (const CLI::Error& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("whole numbers: digits only, in range, written as people write them", "[options]") {
  auto count = escli::whole_number();
  CHECK(check(count, "0").empty());
  CHECK(check(count, "18446744073709551615").empty());
  CHECK(check(count, "-1") == "-1 is not a whole number (0 or more)");
  CHECK(check(count, "18446744073709551616") ==
        "18446744073709551616 is not a whole number (0 or more)");
  CHECK(check(count, "1.5") == "1.5 is not a whole number (0 or more)");
  CHECK(check(count, "") == "'' is not a whole number (0 or more)");
  auto ms = escli::whole_number(10, 3'600'000);
  CHECK(check(ms, "10").empty());
  CHECK(check(ms, "5") == "5 is not a whole number (from 10 to 3,600,000)");
  CHECK(check(ms, "3600001") == "3600001 is not a whole number (from 10 to 3,600,000)");
}

TEST_CASE("seconds: above 0, or in a range", "[options]") {
  auto timeout = escli::seconds();
  CHECK(check(timeout, "0.5").empty());
  CHECK(check(timeout, "0") == "0 is not a number of seconds above 0");
  CHECK(check(timeout, "nan") == "nan is not a number of seconds above 0");
  CHECK(check(timeout, "2e6") == "2e6 is more seconds than 1,000,000");
  auto interval = escli::seconds(0.1, 3600);
  CHECK(check(interval, "0.1").empty());
  CHECK(check(interval, "0.05") == "0.05 is not a number of seconds from 0.1 to 3,600");
}

TEST_CASE("endpoints and empty values", "[options]") {
  CHECK(check(escli::endpoint(es::EndpointUse::kBind), "tcp://127.0.0.1:*").empty());
  CHECK(check(escli::endpoint(es::EndpointUse::kConnect), "tcp://127.0.0.1:*") ==
        "endpoint 'tcp://127.0.0.1:*': the port '*' is not a number (a port is 1 to 65535)");
  CHECK(check(escli::not_empty("--type"), "") == "--type is empty");
  CHECK(check(escli::not_empty("--type"), "T").empty());
}

TEST_CASE("the nearest known word, when it is near", "[options]") {
  const std::vector<std::string> commands = {"append", "read", "tail", "status", "stop"};
  CHECK(es::nearest("apend", commands) == "append");
  CHECK(es::nearest("raed", commands) == "read");
  CHECK(es::nearest("stauts", commands) == "status");
  CHECK(es::nearest("frobnicate", commands).empty());
  CHECK(es::nearest("x", commands).empty());
  CHECK(es::nearest("tpye", {"type", "data"}) == "type");
  CHECK(es::edit_distance("kitten", "sitting") == 3);
}

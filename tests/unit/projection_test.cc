// Projections (es/projection.h): reducers in jq, one state per partition.
#include "es/projection.h"

#include <catch2/catch.hpp>

using namespace es;

namespace {

std::unique_ptr<Projection> must_compile(const std::string& source) {
  auto p = Projection::compile(source, "t");
  INFO(p.status().to_string());
  REQUIRE(p.ok());
  return std::move(p).value();
}

RecordedEvent event(Position position, std::string stream, std::string type, std::string data) {
  RecordedEvent e;
  e.position = position;
  e.stream = std::move(stream);
  e.version = position - 1;
  e.type = std::move(type);
  e.time_us = 1'700'000'000'000'000;
  e.data = std::move(data);
  return e;
}

std::string states(const Projection& p) {
  std::string out;
  p.for_each([&](const std::string& k, const std::string& s) { out += k + "=" + s + " "; });
  return out;
}

}  // namespace

TEST_CASE("defaults: partitions by stream, starts from null", "[projection]") {
  auto p = must_compile("def when: (.state // 0) + .event.data.n;");
  CHECK(p->source().types.empty());
  REQUIRE(p->apply(event(1, "a-1", "T", R"({"n":2})")).ok());
  REQUIRE(p->apply(event(2, "b-1", "T", R"({"n":5})")).ok());
  REQUIRE(p->apply(event(3, "a-1", "U", R"({"n":3})")).ok());
  CHECK(states(*p) == "a-1=5 b-1=5 ");
  CHECK(p->position() == 3);
  CHECK(p->applied() == 3);
  CHECK(p->partitions() == 2);
  CHECK(p->state("a-1") == std::optional<std::string>("5"));
  CHECK_FALSE(p->state("zzz").has_value());
}

TEST_CASE("from, key, init and per-type reducers", "[projection]") {
  auto p = must_compile(R"(
    def from: {category: "order"};
    def key: .data.product;
    def init: {n: 0, last: null};
    def when: .event.type as $t | .state | .last = $t;  # any other type
    def when_Placed: .event.data.q as $q | .state | .n += $q;  # wins over when
    def when_Cancelled: .event.data.q as $q | .state | .n -= $q;
  )");
  CHECK(p->source().categories == std::vector<std::string>{"order"});
  CHECK(p->source().read_category() == "order");
  CHECK(p->typed_reducers() == std::vector<std::string>{"Cancelled", "Placed"});
  REQUIRE(p->apply(event(1, "order-1", "Placed", R"({"product":"apple","q":3})")).ok());
  REQUIRE(p->apply(event(2, "order-2", "Placed", R"({"product":"apple","q":4})")).ok());
  REQUIRE(p->apply(event(3, "order-1", "Cancelled", R"({"product":"apple","q":3})")).ok());
  REQUIRE(p->apply(event(4, "order-3", "Noted", R"({"product":"pear"})")).ok());
  CHECK(states(*p) == R"(apple={"n":4,"last":null} pear={"n":0,"last":"Noted"} )");
}

TEST_CASE("from with several streams and categories filters here", "[projection]") {
  auto p = must_compile(
      R"(def from: {streams: ["cart-1", "cart-2"], categories: ["order"], type: "T"};
         def init: 0; def when: .state + 1;)");
  CHECK(p->source().read_stream().empty());  // several: the node sends all
  CHECK(p->source().read_category().empty());
  CHECK(p->source().types == std::vector<std::string>{"T"});
  REQUIRE(p->apply(event(1, "cart-1", "T", "{}")).ok());
  REQUIRE(p->apply(event(2, "cart-3", "T", "{}")).ok());   // not listed
  REQUIRE(p->apply(event(3, "order-9", "T", "{}")).ok());  // its category is
  REQUIRE(p->apply(event(4, "order-9", "U", "{}")).ok());  // not its type
  CHECK(states(*p) == "cart-1=1 order-9=1 ");
  CHECK(p->position() == 4);
  auto bad = Projection::compile("def from: {streams: \"x\"}; def when: .state;", "t");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains(".streams must be an array of strings"));
}

TEST_CASE("only per-type reducers: reads only those types", "[projection]") {
  auto p = must_compile("def when_A: .state + 1; def when_B: .state + 10; def init: 0;");
  CHECK(p->source().types == std::vector<std::string>{"A", "B"});
  REQUIRE(p->apply(event(1, "s", "A", "{}")).ok());
  REQUIRE(p->apply(event(2, "s", "C", "{}")).ok());  // no reducer: unchanged
  REQUIRE(p->apply(event(3, "s", "B", "{}")).ok());
  CHECK(states(*p) == "s=11 ");
}

TEST_CASE("a failing event changes nothing and says where", "[projection]") {
  auto p = must_compile(
      "def init: 0; def when: if .event.data.bad then error(\"bad \\(.event.data.bad)\") "
      "else .state + 1 end;");
  REQUIRE(p->apply(event(1, "s", "T", "{}")).ok());
  Status s = p->apply(event(2, "s", "T", R"({"bad":"input"})"));
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK_THAT(s.message(), Catch::Contains("event at position 2 (T in s)"));
  CHECK_THAT(s.message(), Catch::Contains("bad input"));
  CHECK(states(*p) == "s=1 ");
  CHECK(p->position() == 1);
}

TEST_CASE("a key that gives no value leaves the event out", "[projection]") {
  auto p = must_compile("def key: .data.k // empty; def init: 0; def when: .state + 1;");
  REQUIRE(p->apply(event(1, "s", "T", R"({"k":"a"})")).ok());
  REQUIRE(p->apply(event(2, "s", "T", R"({"other":1})")).ok());
  CHECK(states(*p) == "a=1 ");
  CHECK(p->position() == 2);
  CHECK(p->applied() == 1);
}

TEST_CASE("keys must be strings", "[projection]") {
  auto p = must_compile("def key: .data.n; def when: .state;");
  Status s = p->apply(event(1, "s", "T", R"({"n":7})"));
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.message(), Catch::Contains("key gave 7, not a string"));
  CHECK(p->partitions() == 0);
}

TEST_CASE("files that cannot work are refused at compile time", "[projection]") {
  auto no_reducer = Projection::compile("def key: .stream;", "t");
  REQUIRE_FALSE(no_reducer.ok());
  CHECK_THAT(no_reducer.status().message(), Catch::Contains("defines no reducer"));

  auto syntax = Projection::compile("def init: 0;\ndef when: .state +;\n", "t");
  REQUIRE_FALSE(syntax.ok());
  CHECK_THAT(syntax.status().message(), Catch::Contains("line 2"));

  auto bad_from = Projection::compile("def from: {types: \"A\"}; def when: .state;", "t");
  REQUIRE_FALSE(bad_from.ok());
  CHECK_THAT(bad_from.status().message(), Catch::Contains(".types must be an array of strings"));
}

TEST_CASE("the same events give the same bytes", "[projection]") {
  const std::string src = "def key: .data.k; def init: {}; def when: .state[.event.type] += 1;";
  auto a = must_compile(src), b = must_compile(src);
  for (Position i = 1; i <= 200; ++i) {
    auto e = event(i, "s", i % 3 ? "X" : "Y", R"({"k":")" + std::to_string(i % 7) + R"("})");
    REQUIRE(a->apply(e).ok());
    REQUIRE(b->apply(e).ok());
  }
  CHECK(states(*a) == states(*b));
  CHECK(a->partitions() == 7);
}

TEST_CASE("the built-in projections: by-category, by-type, counts", "[projection]") {
  auto names = Projection::builtin_names();
  REQUIRE(names.size() == 3);
  std::vector<RecordedEvent> log = {
      event(1, "order-1", "Placed", "{}"), event(2, "order-2", "Placed", "{}"),
      event(3, "order-1", "Paid", "{}"), event(4, "user", "Joined", "{}")};
  log[2].version = 1;  // order-1's second event; the others open their streams
  for (auto& e : log)
    if (e.position != 3) e.version = 0;
  auto run = [&](const std::string& name) {
    auto p = Projection::load("builtin:" + name);
    INFO(p.status().to_string());
    REQUIRE(p.ok());
    for (const auto& e : log) REQUIRE((*p)->apply(e).ok());
    return states(**p);
  };
  CHECK(run("by-category") == R"(order={"streams":2,"events":3,"last_position":3} )"
                              R"(user={"streams":1,"events":1,"last_position":4} )");
  CHECK(run("by-type") == R"(Joined={"events":1,"first_position":4,"last_position":4} )"
                          R"(Paid={"events":1,"first_position":3,"last_position":3} )"
                          R"(Placed={"events":2,"first_position":1,"last_position":2} )");
  CHECK(run("counts") == R"(all={"streams":3,"events":4,"last_position":4} )");
  auto unknown = Projection::load("builtin:nope");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.status().message(), Catch::Contains("by-category, by-type, counts"));
}

// Unit tests of the LMDB event store (es/store.h, es/writer.h) and of the
// vocabulary it is built on (types, json, uuid).
#include "es/store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include "es/digest.h"
#include "es/event.h"
#include "es/group.h"
#include "es/json.h"
#include "es/result.h"
#include "es/status.h"
#include "es/types.h"
#include "es/uuid.h"
#include "es/writer.h"

#include "store/codec.h"
#include "temp_dir.h"

using Catch::Matchers::Contains;
using namespace es;
using es::test::TempDir;

namespace {

// ---------------------------------------------------------------- helpers

ProposedEvent ev(const std::string& stream, const std::string& type = "Happened",
                 const std::string& data = "{}") {
  return ProposedEvent{stream, Uuid::v7(), type, data, ""};
}

AppendRequest req(std::vector<ProposedEvent> events,
                  std::vector<StreamExpectation> expectations = {}) {
  AppendRequest r;
  r.events = std::move(events);
  r.expectations = std::move(expectations);
  return r;
}

StreamExpectation expect(const std::string& stream, ExpectedVersion v) {
  return StreamExpectation{stream, v};
}

// Stores in tests get an 8 MiB journal unless the test says otherwise: the
// default (128 MiB) would be written out for every test.
std::unique_ptr<Store> open_store(const std::string& dir, StoreOptions options = {}) {
  if (options.journal_size == 0) options.journal_size = 8u << 20;
  auto s = Store::open(dir, options);
  INFO(s.status().to_string());
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Appends and requires success.
AppendResult must_append(Store& store, const AppendRequest& r) {
  auto res = store.append(r);
  INFO(res.status().to_string());
  REQUIRE(res.ok());
  return std::move(res).value();
}

ReadResult must_read(const Store& store, const ReadRequest& rq) {
  auto res = store.read(rq);
  INFO(res.status().to_string());
  REQUIRE(res.ok());
  return std::move(res).value();
}

ReadRequest stream_rq(const std::string& stream) {
  ReadRequest rq;
  rq.stream = stream;
  return rq;
}

ReadRequest all_rq() { return ReadRequest{}; }

std::vector<RecordedEvent> read_stream(const Store& store, const std::string& stream) {
  return must_read(store, stream_rq(stream)).events;
}

std::vector<RecordedEvent> read_all(const Store& store) {
  ReadRequest rq = all_rq();
  rq.limit = static_cast<std::uint32_t>(kMaxReadLimit);
  std::vector<RecordedEvent> out;
  for (;;) {
    ReadResult page = must_read(store, rq);
    out.insert(out.end(), page.events.begin(), page.events.end());
    if (page.end) break;
    REQUIRE(page.next > rq.from);  // progress
    rq.from = page.next;
  }
  return out;
}

std::vector<Position> positions(const std::vector<RecordedEvent>& events) {
  std::vector<Position> out;
  for (const auto& e : events) out.push_back(e.position);
  return out;
}

std::vector<Version> versions(const std::vector<RecordedEvent>& events) {
  std::vector<Version> out;
  for (const auto& e : events) out.push_back(e.version);
  return out;
}

std::vector<std::string> ids(const std::vector<RecordedEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id.to_string());
  return out;
}

std::vector<std::string> ids(const std::vector<ProposedEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.id.to_string());
  return out;
}

std::vector<std::uint64_t> iota(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = first; i <= last; ++i) out.push_back(i);
  return out;
}

// A field-by-field equality of recorded events (RecordedEvent has no ==).
void require_same_events(const std::vector<RecordedEvent>& a, const std::vector<RecordedEvent>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("event " << i);
    CHECK(a[i].position == b[i].position);
    CHECK(a[i].stream == b[i].stream);
    CHECK(a[i].version == b[i].version);
    CHECK(a[i].id == b[i].id);
    CHECK(a[i].type == b[i].type);
    CHECK(a[i].time_us == b[i].time_us);
    CHECK(a[i].data == b[i].data);
    CHECK(a[i].metadata == b[i].metadata);
  }
}

// Requires that `res` failed with kWrongExpectedVersion, that the message
// names both versions, and that actual_version() is `actual`.
void require_conflict(const Result<AppendResult>& res, const std::string& expected_text,
                      const std::string& actual_text, std::optional<Version> actual) {
  REQUIRE_FALSE(res.ok());
  const Status& s = res.status();
  INFO(s.to_string());
  CHECK(s.code() == Code::kWrongExpectedVersion);
  CHECK_THAT(s.message(), Contains(expected_text));
  CHECK_THAT(s.message(), Contains(actual_text));
  CHECK(s.actual_version() == actual);
}

}  // namespace

// ============================================================ expectations

TEST_CASE("the id of a copy: the same for the same source and stream, v8, the source's time",
          "[uuid]") {
  const Uuid source = Uuid::v7();
  const Uuid copy = Uuid::copy_of(source, "dst-1");
  CHECK(copy == Uuid::copy_of(source, "dst-1"));
  CHECK_FALSE(copy == source);
  CHECK_FALSE(copy == Uuid::copy_of(source, "dst-2"));
  CHECK_FALSE(copy == Uuid::copy_of(Uuid::v7(), "dst-1"));
  CHECK((copy.bytes[6] >> 4) == 8);       // version 8
  CHECK((copy.bytes[8] & 0xc0) == 0x80);  // RFC 9562 variant
  CHECK(std::equal(copy.bytes.begin(), copy.bytes.begin() + 6, source.bytes.begin()));
  CHECK(Uuid::parse(copy.to_string()).ok());
}

TEST_CASE("expectation any admits a missing and an existing stream", "[store][expect]") {
  TempDir dir;
  auto store = open_store(dir.path());
  auto r1 = must_append(*store, req({ev("s")}, {expect("s", ExpectedVersion::any())}));
  CHECK(r1.streams.at(0).first_version == 0);
  auto r2 = must_append(*store, req({ev("s")}, {expect("s", ExpectedVersion::any())}));
  CHECK(r2.streams.at(0).first_version == 1);
  // No expectation at all means any.
  auto r3 = must_append(*store, req({ev("s")}));
  CHECK(r3.streams.at(0).first_version == 2);
  CHECK(store->head() == 3);
}

TEST_CASE("expectation no-stream succeeds on a new stream and fails on an existing one",
          "[store][expect]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("s"), ev("s")}, {expect("s", ExpectedVersion::no_stream())}));
  const auto before = read_stream(*store, "s");
  REQUIRE(before.size() == 2);

  auto res = store->append(req({ev("s")}, {expect("s", ExpectedVersion::no_stream())}));
  require_conflict(res, "no-stream", "version 1", Version{1});
  CHECK(store->head() == 2);
  require_same_events(read_stream(*store, "s"), before);
}

TEST_CASE("expectation exists succeeds on an existing stream and fails on a missing one",
          "[store][expect]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("present")}));

  auto ok =
      must_append(*store, req({ev("present")}, {expect("present", ExpectedVersion::exists())}));
  CHECK(ok.streams.at(0).first_version == 1);

  auto res = store->append(req({ev("absent")}, {expect("absent", ExpectedVersion::exists())}));
  require_conflict(res, "exists", "no stream", std::nullopt);
  CHECK(store->head() == 2);
  auto missing = store->read(stream_rq("absent"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(store->stream_count() == 1);
}

TEST_CASE("expectation exact succeeds at that version and fails otherwise", "[store][expect]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("s"), ev("s"), ev("s")}));  // versions 0..2

  SECTION("matching version") {
    auto ok = must_append(*store, req({ev("s")}, {expect("s", ExpectedVersion::exact(2))}));
    CHECK(ok.streams.at(0).first_version == 3);
    CHECK(ok.streams.at(0).first_position == 4);
  }
  SECTION("stale version") {
    const auto before = read_stream(*store, "s");
    auto res = store->append(req({ev("s")}, {expect("s", ExpectedVersion::exact(1))}));
    require_conflict(res, "expected version 1", "at version 2", Version{2});
    CHECK(store->head() == 3);
    require_same_events(read_stream(*store, "s"), before);
  }
  SECTION("version ahead of the stream") {
    auto res = store->append(req({ev("s")}, {expect("s", ExpectedVersion::exact(5))}));
    require_conflict(res, "expected version 5", "at version 2", Version{2});
    CHECK(store->head() == 3);
  }
  SECTION("exact on a missing stream") {
    auto res = store->append(req({ev("t")}, {expect("t", ExpectedVersion::exact(0))}));
    require_conflict(res, "expected version 0", "no stream", std::nullopt);
    CHECK(store->head() == 3);
    CHECK(store->stream_count() == 1);
  }
}

// ======================================================= positions, reads

TEST_CASE("positions start at 1 and versions at 0, both gapless", "[store][read]") {
  TempDir dir;
  auto store = open_store(dir.path());
  CHECK(store->head() == 0);
  CHECK(store->stream_count() == 0);

  auto r1 = must_append(*store, req({ev("a"), ev("a"), ev("a")}));
  REQUIRE(r1.streams.size() == 1);
  CHECK(r1.already_stored == false);
  CHECK(r1.streams[0].stream == "a");
  CHECK(r1.streams[0].count == 3);
  CHECK(r1.streams[0].first_version == 0);
  CHECK(r1.streams[0].last_version == 2);
  CHECK(r1.streams[0].first_position == 1);
  CHECK(r1.streams[0].last_position == 3);

  auto r2 = must_append(*store, req({ev("b"), ev("b")}));
  CHECK(r2.streams.at(0).first_version == 0);
  CHECK(r2.streams.at(0).first_position == 4);
  CHECK(r2.streams.at(0).last_position == 5);

  auto r3 = must_append(*store, req({ev("a")}));
  CHECK(r3.streams.at(0).first_version == 3);
  CHECK(r3.streams.at(0).first_position == 6);

  CHECK(store->head() == 6);
  CHECK(store->stream_count() == 2);
  auto all = read_all(*store);
  CHECK(positions(all) == iota(1, 6));
  CHECK(versions(read_stream(*store, "a")) == std::vector<Version>{0, 1, 2, 3});
  CHECK(positions(read_stream(*store, "a")) == std::vector<Position>{1, 2, 3, 6});
  CHECK(versions(read_stream(*store, "b")) == std::vector<Version>{0, 1});

  auto info = store->stream_info("a");
  REQUIRE(info.ok());
  REQUIRE(info->has_value());
  CHECK((*info)->last_version == 3);
  CHECK((*info)->last_position == 6);
}

TEST_CASE("recorded events keep what was proposed", "[store][read]") {
  TempDir dir;
  auto store = open_store(dir.path());
  ProposedEvent p{"order-7", Uuid::v7(), "OrderPlaced", R"({"total":12.50,"items":[1,2]})",
                  R"({"user":"u1"})"};
  const std::int64_t before_us = now_us();
  must_append(*store, req({p}));
  const std::int64_t after_us = now_us();
  auto events = read_stream(*store, "order-7");
  REQUIRE(events.size() == 1);
  const auto& e = events[0];
  CHECK(e.position == 1);
  CHECK(e.version == 0);
  CHECK(e.stream == p.stream);
  CHECK(e.id == p.id);
  CHECK(e.type == p.type);
  CHECK(e.data == p.data);
  CHECK(e.metadata == p.metadata);
  CHECK(e.time_us >= before_us);
  CHECK(e.time_us <= after_us);
}

TEST_CASE("reading a stream forwards, backwards, from a version, with a limit", "[store][read]") {
  TempDir dir;
  auto store = open_store(dir.path());
  // Stream s gets versions 0..5; interleave another stream so positions differ.
  for (int i = 0; i < 6; ++i) {
    must_append(*store,
                req({ev("s", i % 2 == 0 ? "Even" : "Odd", "{\"i\":" + std::to_string(i) + "}"),
                     ev("other")}));
  }
  REQUIRE(store->head() == 12);

  SECTION("forwards, everything") {
    auto r = must_read(*store, stream_rq("s"));
    CHECK(versions(r.events) == std::vector<Version>{0, 1, 2, 3, 4, 5});
    CHECK(positions(r.events) == std::vector<Position>{1, 3, 5, 7, 9, 11});
    CHECK(r.events[3].data == R"({"i":3})");
    CHECK(r.end);
    CHECK(r.next == 6);
    CHECK(r.head == 12);
  }
  SECTION("forwards from a version") {
    auto rq = stream_rq("s");
    rq.from = 4;
    auto r = must_read(*store, rq);
    CHECK(versions(r.events) == std::vector<Version>{4, 5});
    CHECK(r.end);
  }
  SECTION("forwards from past the end") {
    auto rq = stream_rq("s");
    rq.from = 100;
    auto r = must_read(*store, rq);
    CHECK(r.events.empty());
    CHECK(r.end);
  }
  SECTION("forwards with a limit, paging") {
    auto rq = stream_rq("s");
    rq.limit = 4;
    auto p1 = must_read(*store, rq);
    CHECK(versions(p1.events) == std::vector<Version>{0, 1, 2, 3});
    CHECK_FALSE(p1.end);
    CHECK(p1.next == 4);
    rq.from = p1.next;
    auto p2 = must_read(*store, rq);
    CHECK(versions(p2.events) == std::vector<Version>{4, 5});
    CHECK(p2.end);
  }
  SECTION("backwards from the end") {
    auto rq = stream_rq("s");
    rq.backwards = true;
    rq.from_end = true;
    auto r = must_read(*store, rq);
    CHECK(versions(r.events) == std::vector<Version>{5, 4, 3, 2, 1, 0});
    CHECK(r.end);
  }
  SECTION("backwards from a version with a limit") {
    auto rq = stream_rq("s");
    rq.backwards = true;
    rq.from = 3;
    rq.limit = 2;
    auto p1 = must_read(*store, rq);
    CHECK(versions(p1.events) == std::vector<Version>{3, 2});
    CHECK_FALSE(p1.end);
    CHECK(p1.next == 1);
    rq.from = p1.next;
    auto p2 = must_read(*store, rq);
    CHECK(versions(p2.events) == std::vector<Version>{1, 0});
    CHECK(p2.end);
  }
  SECTION("filtered by type") {
    auto rq = stream_rq("s");
    rq.types = {"Odd"};
    auto r = must_read(*store, rq);
    CHECK(versions(r.events) == std::vector<Version>{1, 3, 5});
    rq.types = {"Odd", "Even"};
    CHECK(must_read(*store, rq).events.size() == 6);
    rq.types = {"Nothing"};
    CHECK(must_read(*store, rq).events.empty());
  }
}

TEST_CASE("reading the whole log from a position, backwards, filtered", "[store][read]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("order-1", "Placed"), ev("order-1", "Paid")}));  // 1, 2
  must_append(*store, req({ev("user-1", "Registered")}));                      // 3
  must_append(*store, req({ev("order-2", "Placed")}));                         // 4
  must_append(*store, req({ev("orders", "Placed")}));  // 5: category "orders"
  must_append(*store, req({ev("order-1", "Shipped"), ev("user-1", "Paid")}));  // 6, 7
  REQUIRE(store->head() == 7);

  SECTION("forwards from the start") {
    auto r = must_read(*store, all_rq());
    CHECK(positions(r.events) == iota(1, 7));
    CHECK(r.end);
    CHECK(r.next == 8);
    CHECK(r.head == 7);
    CHECK(r.events[2].stream == "user-1");
    CHECK(r.events[2].version == 0);
    CHECK(r.events[5].stream == "order-1");
    CHECK(r.events[5].version == 2);
  }
  SECTION("forwards from a position with a limit") {
    auto rq = all_rq();
    rq.from = 3;
    rq.limit = 3;
    auto p1 = must_read(*store, rq);
    CHECK(positions(p1.events) == std::vector<Position>{3, 4, 5});
    CHECK_FALSE(p1.end);
    CHECK(p1.next == 6);
    rq.from = p1.next;
    auto p2 = must_read(*store, rq);
    CHECK(positions(p2.events) == std::vector<Position>{6, 7});
    CHECK(p2.end);
    CHECK(p2.next == 8);
  }
  SECTION("forwards from past the head") {
    auto rq = all_rq();
    rq.from = 8;
    auto r = must_read(*store, rq);
    CHECK(r.events.empty());
    CHECK(r.end);
    CHECK(r.next == 8);
  }
  SECTION("backwards from the end") {
    auto rq = all_rq();
    rq.backwards = true;
    rq.from_end = true;
    auto r = must_read(*store, rq);
    CHECK(positions(r.events) == std::vector<Position>{7, 6, 5, 4, 3, 2, 1});
    CHECK(r.end);
  }
  SECTION("backwards from a position with a limit") {
    auto rq = all_rq();
    rq.backwards = true;
    rq.from = 5;
    rq.limit = 2;
    auto p1 = must_read(*store, rq);
    CHECK(positions(p1.events) == std::vector<Position>{5, 4});
    CHECK_FALSE(p1.end);
    CHECK(p1.next == 3);
    rq.from = p1.next;
    rq.limit = 10;
    auto p2 = must_read(*store, rq);
    CHECK(positions(p2.events) == std::vector<Position>{3, 2, 1});
    CHECK(p2.end);
  }
  SECTION("filtered by type") {
    auto rq = all_rq();
    rq.types = {"Placed"};
    CHECK(positions(must_read(*store, rq).events) == std::vector<Position>{1, 4, 5});
    rq.types = {"Paid", "Registered"};
    CHECK(positions(must_read(*store, rq).events) == std::vector<Position>{2, 3, 7});
  }
  SECTION("filtered by category") {
    auto rq = all_rq();
    rq.category = "order";
    auto r = must_read(*store, rq);
    CHECK(positions(r.events) == std::vector<Position>{1, 2, 4, 6});  // not "orders"
    rq.category = "user";
    CHECK(positions(must_read(*store, rq).events) == std::vector<Position>{3, 7});
    rq.category = "orders";
    CHECK(positions(must_read(*store, rq).events) == std::vector<Position>{5});
  }
  SECTION("filtered by category and type, backwards") {
    auto rq = all_rq();
    rq.category = "order";
    rq.types = {"Placed", "Shipped"};
    rq.backwards = true;
    rq.from_end = true;
    CHECK(positions(must_read(*store, rq).events) == std::vector<Position>{6, 4, 1});
  }
}

TEST_CASE("reading a missing stream gives kNotFound", "[store][read]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("exists")}));
  auto r = store->read(stream_rq("missing"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kNotFound);
  CHECK_THAT(r.status().message(), Contains("missing"));
  auto info = store->stream_info("missing");
  REQUIRE(info.ok());
  CHECK_FALSE(info->has_value());
}

TEST_CASE("reading an empty store", "[store][read]") {
  TempDir dir;
  auto store = open_store(dir.path());
  auto r = must_read(*store, all_rq());
  CHECK(r.events.empty());
  CHECK(r.end);
  CHECK(r.head == 0);
  auto rq = all_rq();
  rq.backwards = true;
  rq.from_end = true;
  CHECK(must_read(*store, rq).events.empty());
}

TEST_CASE("listing streams by prefix and after", "[store][read]") {
  TempDir dir;
  auto store = open_store(dir.path());
  for (const char* s : {"order-1", "order-2", "order-3", "user-1", "zeta"})
    must_append(*store, req({ev(s)}));
  must_append(*store, req({ev("order-2")}));
  auto names = [](const std::vector<StreamInfo>& v) {
    std::vector<std::string> out;
    for (const auto& i : v) out.push_back(i.stream);
    return out;
  };
  auto all = store->streams("", "", 100);
  REQUIRE(all.ok());
  CHECK(names(*all) == std::vector<std::string>{"order-1", "order-2", "order-3", "user-1", "zeta"});
  auto orders = store->streams("order-", "", 100);
  REQUIRE(orders.ok());
  CHECK(names(*orders) == std::vector<std::string>{"order-1", "order-2", "order-3"});
  CHECK((*orders)[1].last_version == 1);
  CHECK((*orders)[1].last_position == 6);
  auto after = store->streams("order-", "order-1", 1);
  REQUIRE(after.ok());
  CHECK(names(*after) == std::vector<std::string>{"order-2"});
}

// ============================================================ idempotency

TEST_CASE("an identical retry returns the original positions and writes nothing",
          "[store][idempotent]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("other")}));  // position 1
  const AppendRequest r = req({ev("s", "A", R"({"n":1})"), ev("s", "B", R"({"n":2})")},
                              {expect("s", ExpectedVersion::no_stream())});
  auto first = must_append(*store, r);
  CHECK_FALSE(first.already_stored);
  REQUIRE(first.streams.size() == 1);
  CHECK(first.streams[0].first_position == 2);
  CHECK(first.streams[0].last_position == 3);
  const auto before = read_all(*store);

  // The expectation (no-stream) no longer holds, but the events are stored
  // exactly where it put them: that is a retry, not a conflict.
  auto second = must_append(*store, r);
  CHECK(second.already_stored);
  REQUIRE(second.streams.size() == 1);
  CHECK(second.streams[0].stream == "s");
  CHECK(second.streams[0].count == 2);
  CHECK(second.streams[0].first_version == 0);
  CHECK(second.streams[0].last_version == 1);
  CHECK(second.streams[0].first_position == 2);
  CHECK(second.streams[0].last_position == 3);
  CHECK(store->head() == 3);
  require_same_events(read_all(*store), before);

  // Once more, with an exact expectation that put them there.
  must_append(*store, req({ev("s")}));  // version 2, position 4
  const AppendRequest r2 = req({ev("s")}, {expect("s", ExpectedVersion::exact(2))});
  auto a = must_append(*store, r2);
  auto b = must_append(*store, r2);
  CHECK_FALSE(a.already_stored);
  CHECK(b.already_stored);
  CHECK(b.streams.at(0).first_position == a.streams.at(0).first_position);
  CHECK(b.streams.at(0).first_version == 3);
  CHECK(store->head() == 5);
}

// The writer asks the id filter (store/id_filter.h) before LMDB for ids no
// longer in the tail: a retry must be recognised through it, when the filter
// has been outgrown and rebuilt, and after a reopen has built it again.
TEST_CASE("retries are recognised through the id filter, rebuilt as it fills and after a reopen",
          "[store][idempotent][id-filter]") {
  TempDir dir;
  StoreOptions options;
  options.id_filter_min_ids = 64;  // outgrown many times below
  std::vector<AppendRequest> sent;
  std::vector<Position> at;
  auto append_and_retry = [&](Store& store, int appends) {
    for (int k = 0; k < appends; ++k) {
      std::vector<ProposedEvent> events;
      for (int e = 0; e < 5; ++e) {
        ProposedEvent p = ev("s-" + std::to_string(k % 13), "T", "{}");
        for (auto& b : p.id.bytes) b = static_cast<std::uint8_t>(rand());  // random, as v4
        events.push_back(p);
      }
      sent.push_back(req(std::move(events)));
      at.push_back(must_append(store, sent.back()).streams.at(0).first_position);
    }
    REQUIRE(store.wait_applied().ok());  // the tail let go of them: LMDB and the filter
    store.wait_id_filter_built();
    for (std::size_t k = 0; k < sent.size(); ++k) {
      auto again = must_append(store, sent[k]);
      REQUIRE(again.already_stored);
      REQUIRE(again.streams.at(0).first_position == at[k]);
    }
  };
  {
    auto store = open_store(dir.path(), options);
    for (int round = 0; round < 6; ++round) append_and_retry(*store, 40);
    CHECK(store->head() == 6 * 40 * 5);
    // New ids are still new.
    auto fresh = must_append(*store, req({ev("s-0")}));
    CHECK_FALSE(fresh.already_stored);
    CHECK(fresh.streams.at(0).first_position == 6 * 40 * 5 + 1);
  }
  auto store = open_store(dir.path(), options);
  append_and_retry(*store, 10);
  CHECK(store->head() == 6 * 40 * 5 + 1 + 10 * 5);
}

TEST_CASE("the same id with other content is kDuplicateId", "[store][idempotent]") {
  TempDir dir;
  auto store = open_store(dir.path());
  ProposedEvent e = ev("s", "T", R"({"v":1})");
  must_append(*store, req({e}));
  const auto before = read_all(*store);

  SECTION("other data") {
    ProposedEvent changed = e;
    changed.data = R"({"v":2})";
    auto res = store->append(req({changed}));
    REQUIRE_FALSE(res.ok());
    CHECK(res.status().code() == Code::kDuplicateId);
    CHECK_THAT(res.status().message(), Contains(e.id.to_string()));
  }
  SECTION("other type") {
    ProposedEvent changed = e;
    changed.type = "U";
    auto res = store->append(req({changed}));
    REQUIRE_FALSE(res.ok());
    CHECK(res.status().code() == Code::kDuplicateId);
  }
  SECTION("other metadata") {
    ProposedEvent changed = e;
    changed.metadata = R"({"m":1})";
    auto res = store->append(req({changed}));
    REQUIRE_FALSE(res.ok());
    CHECK(res.status().code() == Code::kDuplicateId);
  }
  CHECK(store->head() == 1);
  require_same_events(read_all(*store), before);
}

TEST_CASE("the same id in another stream is kDuplicateId", "[store][idempotent]") {
  TempDir dir;
  auto store = open_store(dir.path());
  ProposedEvent e = ev("a");
  must_append(*store, req({e}));
  ProposedEvent moved = e;
  moved.stream = "b";
  auto res = store->append(req({moved}));
  REQUIRE_FALSE(res.ok());
  CHECK(res.status().code() == Code::kDuplicateId);
  CHECK_THAT(res.status().message(), Contains(e.id.to_string()));
  CHECK(store->head() == 1);
  CHECK(store->read(stream_rq("b")).status().code() == Code::kNotFound);
}

TEST_CASE("the same events at another place than the expectation is kDuplicateId",
          "[store][idempotent]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("s"), ev("s")}));
  ProposedEvent e = ev("s");
  must_append(*store, req({e}));  // version 2
  auto res = store->append(req({e}, {expect("s", ExpectedVersion::exact(0))}));
  REQUIRE_FALSE(res.ok());
  CHECK(res.status().code() == Code::kDuplicateId);
  CHECK(store->head() == 3);
}

TEST_CASE("a retry with only some ids stored is kDuplicateId", "[store][idempotent]") {
  TempDir dir;
  auto store = open_store(dir.path());
  ProposedEvent e1 = ev("s"), e2 = ev("s"), e3 = ev("s");
  must_append(*store, req({e1}));

  SECTION("stored first, new second") {
    auto res = store->append(req({e1, e2}));
    REQUIRE_FALSE(res.ok());
    CHECK(res.status().code() == Code::kDuplicateId);
  }
  SECTION("new first, stored last") {
    auto res = store->append(req({e2, e3, e1}));
    REQUIRE_FALSE(res.ok());
    CHECK(res.status().code() == Code::kDuplicateId);
  }
  CHECK(store->head() == 1);
  CHECK(ids(read_all(*store)) == std::vector<std::string>{e1.id.to_string()});
}

// ================================================= atomic multi-stream

TEST_CASE("a multi-stream append with a failing expectation writes nothing", "[store][atomic]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("b")}));  // b at version 0
  auto res =
      store->append(req({ev("a"), ev("b"), ev("a")}, {expect("a", ExpectedVersion::no_stream()),
                                                      expect("b", ExpectedVersion::exact(5))}));
  require_conflict(res, "expected version 5", "at version 0", Version{0});
  CHECK_THAT(res.status().message(), Contains("b"));
  CHECK(store->head() == 1);
  CHECK(store->stream_count() == 1);
  CHECK(store->read(stream_rq("a")).status().code() == Code::kNotFound);
  CHECK(read_stream(*store, "b").size() == 1);
}

TEST_CASE("a multi-stream append writes all streams, results in order of first appearance",
          "[store][atomic]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("a"), ev("a")}));  // a at version 1, positions 1-2
  std::vector<ProposedEvent> events = {ev("b"), ev("a"), ev("b"), ev("c"), ev("a")};
  auto res = must_append(*store, req(events, {expect("a", ExpectedVersion::exact(1)),
                                              expect("b", ExpectedVersion::no_stream())}));
  CHECK_FALSE(res.already_stored);
  REQUIRE(res.streams.size() == 3);
  CHECK(res.streams[0].stream == "b");
  CHECK(res.streams[0].count == 2);
  CHECK(res.streams[0].first_version == 0);
  CHECK(res.streams[0].last_version == 1);
  CHECK(res.streams[0].first_position == 3);
  CHECK(res.streams[0].last_position == 5);
  CHECK(res.streams[1].stream == "a");
  CHECK(res.streams[1].count == 2);
  CHECK(res.streams[1].first_version == 2);
  CHECK(res.streams[1].last_version == 3);
  CHECK(res.streams[1].first_position == 4);
  CHECK(res.streams[1].last_position == 7);
  CHECK(res.streams[2].stream == "c");
  CHECK(res.streams[2].count == 1);
  CHECK(res.streams[2].first_position == 6);

  CHECK(store->head() == 7);
  CHECK(store->stream_count() == 3);
  auto all = read_all(*store);
  REQUIRE(all.size() == 7);
  // The log holds the events in the order of the append.
  std::vector<RecordedEvent> tail(all.begin() + 2, all.end());
  CHECK(ids(tail) == ids(events));
  CHECK(positions(read_stream(*store, "a")) == std::vector<Position>{1, 2, 4, 7});
  CHECK(positions(read_stream(*store, "b")) == std::vector<Position>{3, 5});

  // The same append again is a retry of all three streams.
  auto again = must_append(*store, req(events, {expect("a", ExpectedVersion::exact(1)),
                                                expect("b", ExpectedVersion::no_stream())}));
  CHECK(again.already_stored);
  REQUIRE(again.streams.size() == 3);
  CHECK(again.streams[1].first_position == 4);
  CHECK(again.streams[1].last_position == 7);
  CHECK(store->head() == 7);
}

// ================================================================ groups

TEST_CASE("append_group: a conflict fails only its own request", "[store][group]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("x")}));  // position 1

  AppendRequest r1 = req({ev("g"), ev("g")}, {expect("g", ExpectedVersion::no_stream())});
  // Conflicts with what r1 wrote earlier in the same transaction.
  AppendRequest r2 = req({ev("g"), ev("h")}, {expect("g", ExpectedVersion::no_stream())});
  // Sees r1's write: g is at version 1.
  AppendRequest r3 = req({ev("g"), ev("i")}, {expect("g", ExpectedVersion::exact(1))});
  const AppendRequest* group[] = {&r1, &r2, &r3};
  std::vector<Result<AppendResult>> results;
  std::vector<RecordedEvent> committed;
  Status s = store->append_group(group, &results, &committed);
  INFO(s.to_string());
  REQUIRE(s.ok());
  REQUIRE(results.size() == 3);

  REQUIRE(results[0].ok());
  CHECK(results[0]->streams.at(0).first_position == 2);
  CHECK(results[0]->streams.at(0).last_position == 3);

  REQUIRE_FALSE(results[1].ok());
  CHECK(results[1].status().code() == Code::kWrongExpectedVersion);
  CHECK(results[1].status().actual_version() == Version{1});

  REQUIRE(results[2].ok());
  REQUIRE(results[2]->streams.size() == 2);
  CHECK(results[2]->streams[0].stream == "g");
  CHECK(results[2]->streams[0].first_version == 2);
  CHECK(results[2]->streams[0].first_position == 4);  // no gap for r2
  CHECK(results[2]->streams[1].stream == "i");
  CHECK(results[2]->streams[1].first_position == 5);

  REQUIRE(committed.size() == 4);
  CHECK(positions(committed) == iota(2, 5));
  std::vector<std::string> want_ids = {r1.events[0].id.to_string(), r1.events[1].id.to_string(),
                                       r3.events[0].id.to_string(), r3.events[1].id.to_string()};
  CHECK(ids(committed) == want_ids);

  CHECK(store->head() == 5);
  CHECK(store->stream_count() == 3);  // x, g, i; not h
  CHECK(store->read(stream_rq("h")).status().code() == Code::kNotFound);
  auto all = read_all(*store);
  REQUIRE(all.size() == 5);
  require_same_events(std::vector<RecordedEvent>(all.begin() + 1, all.end()), committed);
}

// ================================================================ writer

TEST_CASE("Writer: concurrent appenders get gapless, unique positions", "[writer][concurrency]") {
  TempDir dir;
  auto store = open_store(dir.path());
  constexpr std::uint64_t kThreads = 8;
  constexpr std::uint64_t kPerThread = 2000;
  constexpr std::uint64_t kTotal = kThreads * kPerThread;

  // Everything the writer thread reports, checked afterwards on this thread
  // (Catch2 assertions are not thread-safe).
  struct Seen {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<Result<AppendResult>>> by_tag;
    std::uint64_t answered = 0;
    bool bad_tag = false;
    bool bad_group_status = false;
    std::vector<Position> committed;  // over all groups, in callback order
    std::uint64_t groups = 0;
  } seen;
  seen.by_tag.resize(kTotal);
  std::atomic<std::uint64_t> refused{0};

  const auto start = std::chrono::steady_clock::now();
  {
    Writer writer(*store, Writer::Options{}, [&seen](GroupOutcome&& g) {
      std::lock_guard lock(seen.mu);
      ++seen.groups;
      if (!g.status.ok()) seen.bad_group_status = true;
      for (const auto& e : g.committed) seen.committed.push_back(e.position);
      for (auto& [tag, res] : g.results) {
        if (tag >= kTotal || seen.by_tag[tag].has_value()) {
          seen.bad_tag = true;
          continue;
        }
        seen.by_tag[tag].emplace(std::move(res));
        ++seen.answered;
      }
      seen.cv.notify_all();
    });

    // A reader tails the log meanwhile: every page it reads must continue
    // the previous one without a gap, whatever the writer is doing.
    std::atomic<std::uint64_t> reader_gaps{0}, reader_errors{0}, reader_seen{0};
    std::thread reader([&] {
      ReadRequest rq = all_rq();
      rq.from = 1;
      while (rq.from <= kTotal &&
             std::chrono::steady_clock::now() < start + std::chrono::seconds(10)) {
        auto page = store->read(rq);
        if (!page.ok()) {
          ++reader_errors;
          break;
        }
        for (const auto& e : page->events) {
          if (e.position != rq.from) ++reader_gaps;
          rq.from = e.position + 1;
        }
        if (page->events.empty()) std::this_thread::yield();
      }
      reader_seen = rq.from - 1;
    });

    std::vector<std::thread> threads;
    for (std::uint64_t t = 0; t < kThreads; ++t) {
      threads.emplace_back([&writer, &refused, t] {
        const std::string stream = "client-" + std::to_string(t);
        for (std::uint64_t i = 0; i < kPerThread; ++i) {
          AppendRequest r = req({ev(stream, "Tick", "{\"i\":" + std::to_string(i) + "}")});
          if (!writer.submit(std::move(r), t * kPerThread + i)) ++refused;
        }
      });
    }
    for (auto& th : threads) th.join();
    reader.join();
    CHECK(reader_errors == 0);
    CHECK(reader_gaps == 0);
    CHECK(reader_seen == kTotal);

    std::unique_lock lock(seen.mu);
    const bool all_answered = seen.cv.wait_until(lock, start + std::chrono::seconds(10),
                                                 [&] { return seen.answered == kTotal; });
    INFO("answered " << seen.answered << " of " << kTotal);
    REQUIRE(all_answered);
    lock.unlock();
    writer.close();
    CHECK_FALSE(writer.is_failed());
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  INFO("took " << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
               << " ms in " << seen.groups << " groups");
  CHECK(elapsed < std::chrono::seconds(10));

  CHECK(refused == 0);
  CHECK_FALSE(seen.bad_tag);
  CHECK_FALSE(seen.bad_group_status);

  std::vector<Position> got;
  got.reserve(kTotal);
  std::uint64_t failed = 0, out_of_order = 0;
  for (std::uint64_t tag = 0; tag < kTotal; ++tag) {
    const auto& res = *seen.by_tag[tag];
    if (!res.ok() || res->streams.size() != 1 || res->streams[0].count != 1) {
      ++failed;
      continue;
    }
    const auto& w = res->streams[0];
    got.push_back(w.first_position);
    if (w.last_position != w.first_position) ++failed;
    // One submitter's appends are applied in the order it submitted them.
    if (w.first_version != tag % kPerThread) ++out_of_order;
  }
  CHECK(failed == 0);
  CHECK(out_of_order == 0);
  std::sort(got.begin(), got.end());
  CHECK(got == iota(1, kTotal));             // exactly 1..N, no repeats
  CHECK(seen.committed == iota(1, kTotal));  // groups reported in commit order

  CHECK(store->head() == kTotal);
  CHECK(store->stream_count() == kThreads);
  auto all = read_all(*store);
  CHECK(positions(all) == iota(1, kTotal));
  CHECK(versions(read_stream(*store, "client-3")).size() == 1000);  // one page of the default limit
}

TEST_CASE("Writer: close() commits what is queued and refuses later appends", "[writer]") {
  TempDir dir;
  auto store = open_store(dir.path());
  std::mutex mu;
  std::vector<std::uint64_t> tags;
  Writer writer(*store, Writer::Options{.max_group_events = 3}, [&](GroupOutcome&& g) {
    std::lock_guard lock(mu);
    for (auto& [tag, res] : g.results) {
      if (res.ok()) tags.push_back(tag);
    }
  });
  for (std::uint64_t i = 0; i < 10; ++i) REQUIRE(writer.submit(req({ev("w"), ev("w")}), i));
  writer.close();
  CHECK_FALSE(writer.submit(req({ev("w")}), 99));
  CHECK(tags == iota(0, 9));
  CHECK(store->head() == 20);
  CHECK(writer.queued() == 0);
}

// ========================================================== persistence

TEST_CASE("reopening a store keeps its events and continues the positions", "[store][reopen]") {
  TempDir dir;
  std::vector<RecordedEvent> before;
  ProposedEvent kept = ev("a", "Kept", R"({"k":true})");
  {
    auto store = open_store(dir.path());
    must_append(*store, req({ev("a"), ev("a"), kept}));
    must_append(*store, req({ev("b", "T", "[1,2,3]"), ev("b")}));
    before = read_all(*store);
    REQUIRE(store->head() == 5);
  }
  {
    auto store = open_store(dir.path());
    CHECK(store->head() == 5);
    CHECK(store->stream_count() == 2);
    require_same_events(read_all(*store), before);

    // A retry of an event stored before the reopen is still recognized.
    auto retry = must_append(*store, req({kept}));
    CHECK(retry.already_stored);
    CHECK(retry.streams.at(0).first_position == 3);

    // A new stream must not reuse the id of an existing one.
    auto c = must_append(*store, req({ev("c")}));
    CHECK(c.streams.at(0).first_position == 6);
    CHECK(c.streams.at(0).first_version == 0);
    auto a = must_append(*store, req({ev("a")}, {expect("a", ExpectedVersion::exact(2))}));
    CHECK(a.streams.at(0).first_position == 7);
    CHECK(a.streams.at(0).first_version == 3);

    CHECK(positions(read_stream(*store, "a")) == std::vector<Position>{1, 2, 3, 7});
    CHECK(positions(read_stream(*store, "b")) == std::vector<Position>{4, 5});
    CHECK(positions(read_stream(*store, "c")) == std::vector<Position>{6});
    auto all = read_all(*store);
    CHECK(positions(all) == iota(1, 7));
    CHECK(all[5].time_us >= before.back().time_us);  // commit times do not go back
    CHECK(store->stream_count() == 3);
  }
  {
    auto store = open_store(dir.path());
    CHECK(store->head() == 7);
    CHECK(store->stream_count() == 3);
  }
}

TEST_CASE("the map grows when it is full", "[store][map]") {
  TempDir dir;
  StoreOptions options;
  options.initial_map_size = 1u << 20;
  constexpr int kAppends = 20, kPerAppend = 100;
  const std::string pad(10'000, 'x');
  auto data_of = [&](int i) { return "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + pad + "\"}"; };
  {
    auto store = open_store(dir.path(), options);
    CHECK(store->map_size() <= (1u << 20));
    int n = 0;
    for (int a = 0; a < kAppends; ++a) {
      std::vector<ProposedEvent> events;
      for (int k = 0; k < kPerAppend; ++k, ++n)
        events.push_back(ev("big-" + std::to_string(a % 3), "Big", data_of(n)));
      auto res = must_append(*store, req(std::move(events)));
      CHECK(res.streams.size() == 1);
    }
    CHECK(store->head() == kAppends * kPerAppend);
    REQUIRE(store->wait_applied().ok());  // LMDB grows as the applier catches up
    CHECK(store->map_size() > (1u << 20));
    CHECK(store->size_bytes() > (20u << 20));

    auto all = read_all(*store);  // pages, because of the reply byte cap
    REQUIRE(all.size() == static_cast<std::size_t>(kAppends * kPerAppend));
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i].position != i + 1 || all[i].data != data_of(static_cast<int>(i))) ++wrong;
    }
    CHECK(wrong == 0);
  }
  {
    // Reopened with the same small initial size: LMDB keeps what is used,
    // and the next append grows the map again.
    auto store = open_store(dir.path(), options);
    CHECK(store->head() == kAppends * kPerAppend);
    std::vector<ProposedEvent> events;
    for (int k = 0; k < kPerAppend; ++k)
      events.push_back(ev("big-0", "Big", data_of(kAppends * kPerAppend + k)));
    must_append(*store, req(std::move(events)));
    CHECK(store->head() == (kAppends + 1) * kPerAppend);
    auto rq = all_rq();
    rq.backwards = true;
    rq.from_end = true;
    rq.limit = 1;
    auto last = must_read(*store, rq);
    REQUIRE(last.events.size() == 1);
    CHECK(last.events[0].data == data_of((kAppends + 1) * kPerAppend - 1));
  }
}

TEST_CASE("the map grows under a Writer group commit", "[writer][map]") {
  TempDir dir;
  StoreOptions options;
  options.initial_map_size = 1u << 20;
  auto store = open_store(dir.path(), options);
  constexpr std::uint64_t kAppends = 400;
  const std::string data = "\"" + std::string(10'000, 'y') + "\"";
  std::mutex mu;
  std::vector<Position> got;
  std::uint64_t failed = 0;
  {
    Writer writer(*store, Writer::Options{}, [&](GroupOutcome&& g) {
      std::lock_guard lock(mu);
      for (auto& [tag, res] : g.results) {
        if (res.ok()) {
          got.push_back(res->streams.at(0).first_position);
        } else {
          ++failed;
        }
      }
    });
    for (std::uint64_t i = 0; i < kAppends; ++i) {
      REQUIRE(writer.submit(req({ev("fat-" + std::to_string(i % 5), "Fat", data)}), i));
    }
    writer.close();
    CHECK_FALSE(writer.is_failed());
  }
  CHECK(failed == 0);
  std::sort(got.begin(), got.end());
  CHECK(got == iota(1, kAppends));
  REQUIRE(store->wait_applied().ok());
  CHECK(store->map_size() > (1u << 20));
  auto all = read_all(*store);
  CHECK(positions(all) == iota(1, kAppends));
  CHECK(all.back().data == data);
}

TEST_CASE("a second opener of a directory is refused with kBusy", "[store][lock]") {
  TempDir dir;
  auto first = open_store(dir.path());
  must_append(*first, req({ev("s")}));

  auto second = Store::open(dir.path(), StoreOptions{});
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Code::kBusy);
  CHECK_THAT(second.status().message(), Contains(dir.path()));

  // The first is unaffected.
  must_append(*first, req({ev("s")}));
  CHECK(first->head() == 2);
  CHECK(read_stream(*first, "s").size() == 2);

  first.reset();
  auto third = open_store(dir.path());
  CHECK(third->head() == 2);
  must_append(*third, req({ev("s")}));
  CHECK(third->head() == 3);
}

// ============================================================= validate

TEST_CASE("validate() rejects malformed appends with a clear message", "[store][validate]") {
  auto invalid = [](const AppendRequest& r, const std::string& text) {
    Status s = Store::validate(r);
    INFO(s.to_string());
    CHECK(s.code() == Code::kInvalidArgument);
    CHECK_THAT(s.message(), Contains(text));
  };

  SECTION("a well-formed append passes") {
    CHECK(Store::validate(req({ev("s"), ev("t")}, {expect("s", ExpectedVersion::exact(3))})).ok());
  }
  SECTION("no events") { invalid(req({}), "at least one event"); }
  SECTION("empty type") { invalid(req({ev("s", "")}), "event type must not be empty"); }
  SECTION("empty stream") { invalid(req({ev("")}), "stream name must not be empty"); }
  SECTION("control characters in the stream name") {
    invalid(req({ev("a\nb")}),
            "stream name must not contain control or format characters: "
            "it holds U+000A (a control character) at byte 1");
    invalid(req({ev(std::string("a\0b", 3))}), "U+0000 (a control character)");
    invalid(req({ev("a\x7f")}), "U+007F (a control character)");
  }
  SECTION("control characters in the type") {
    invalid(req({ev("s", "T\t")}), "event type must not contain control");
  }
  SECTION("Unicode controls, format characters and separators, named by code point") {
    invalid(req({ev("a\u0085b")}), "it holds U+0085 (a control character) at byte 1");
    invalid(req({ev("admin\u202E-1")}),
            "stream name must not contain control or format characters: it holds U+202E "
            "(RIGHT-TO-LEFT OVERRIDE, a format character) at byte 5");
    invalid(req({ev("a\u200Bb")}), "U+200B (ZERO WIDTH SPACE");
    invalid(req({ev("\uFEFFa")}), "U+FEFF (ZERO WIDTH NO-BREAK SPACE (byte order mark)");
    invalid(req({ev("a\u2028")}), "U+2028 (LINE SEPARATOR)");
    invalid(req({ev("a\u2066b")}), "U+2066 (LEFT-TO-RIGHT ISOLATE");
    invalid(req({ev("s", "T\U000E0041")}), "event type must not contain control or format");
    invalid(req({ev("s", "T\u00AD")}), "U+00AD (SOFT HYPHEN");
    // Letters, marks and symbols of any script are names.
    CHECK(Store::validate(req({ev("заказ-1", "Заказан")})).ok());
    CHECK(Store::validate(req({ev("注文-✓"), ev("café-é")})).ok());
    CHECK(Store::validate(req({ev("emoji-👍🏽")})).ok());
  }
  SECTION("names too long") {
    CHECK(Store::validate(req({ev(std::string(kMaxNameBytes, 's'))})).ok());
    invalid(req({ev(std::string(kMaxNameBytes + 1, 's'))}),
            "stream name is 256 bytes; the limit is 255");
  }
  SECTION("invalid UTF-8 in a name") {
    invalid(req({ev("s", "T\xff")}), "event type is not valid UTF-8");
  }
  SECTION("nil id") {
    ProposedEvent e = ev("s");
    e.id = Uuid{};
    invalid(req({e}), "nil UUID");
  }
  SECTION("duplicate id within one append") {
    ProposedEvent e = ev("s");
    ProposedEvent f = ev("other");
    f.id = e.id;
    invalid(req({e, ev("s"), f}), e.id.to_string());
    invalid(req({e, ev("s"), f}), "appears twice");
  }
  SECTION("too many events") {
    std::vector<ProposedEvent> events(kMaxAppendEvents + 1, ev("s"));
    for (auto& e : events) e.id = Uuid::v7();
    invalid(req(std::move(events)), "at most 100000 events, not 100001");
  }
  SECTION("data over 1 MiB") {
    std::string at_limit = "\"" + std::string(kMaxDataBytes - 2, 'x') + "\"";
    CHECK(Store::validate(req({ev("s", "T", at_limit)})).ok());
    invalid(req({ev("s", "T", at_limit + " ")}),
            "event data is 1048577 bytes; the limit is 1048576");
  }
  SECTION("empty data") { invalid(req({ev("s", "T", "")}), "data"); }
  SECTION("metadata over 64 KiB") {
    ProposedEvent e = ev("s");
    e.metadata = "\"" + std::string(kMaxMetadataBytes, 'm') + "\"";
    invalid(req({e}), "event metadata is 65538 bytes; the limit is 65536");
  }
  SECTION("whole append over 32 MiB") {
    std::string big = "\"" + std::string(kMaxDataBytes - 2, 'x') + "\"";
    std::vector<ProposedEvent> events;
    for (int i = 0; i < 33; ++i) events.push_back(ev("s", "T", big));
    invalid(req(std::move(events)), "32 MiB");
  }
  SECTION("bad stream name in an expectation") {
    invalid(req({ev("s")}, {expect("bad\x01", ExpectedVersion::any())}), "stream name");
  }
}

TEST_CASE("append() validates and writes nothing when invalid", "[store][validate]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("s")}));
  auto res = store->append(req({ev("s"), ev("s", "")}));
  REQUIRE_FALSE(res.ok());
  CHECK(res.status().code() == Code::kInvalidArgument);
  CHECK(store->head() == 1);
}

// ================================================================= json

TEST_CASE("canonical_json minifies and keeps numbers as written", "[json]") {
  auto c = canonical_json(
      " { \"a\" : [ 1 , 2 ,\n3 ] ,\t\"b\" : \"x y\" , \"c\" : { } , \"d\":null,\"e\":true } ",
      "data", kMaxDataBytes);
  REQUIRE(c.ok());
  CHECK(*c == R"({"a":[1,2,3],"b":"x y","c":{},"d":null,"e":true})");

  auto n =
      canonical_json("[12345678901234567890123, 1.10, -0.0, 1E5, 0.1e-3, 18446744073709551616]",
                     "data", kMaxDataBytes);
  INFO(n.status().to_string());
  REQUIRE(n.ok());
  CHECK(*n == "[12345678901234567890123,1.10,-0.0,1E5,0.1e-3,18446744073709551616]");

  auto s = canonical_json(R"("caf\u00e9 \"q\" ☃")", "data", kMaxDataBytes);
  REQUIRE(s.ok());
  // Still one valid JSON string that parses back to the same text.
  rapidjson::Document d;
  d.Parse(s->c_str(), s->size());
  REQUIRE_FALSE(d.HasParseError());
  REQUIRE(d.IsString());
  CHECK(std::string(d.GetString(), d.GetStringLength()) == "caf\xc3\xa9 \"q\" \xe2\x98\x83");
}

TEST_CASE("canonical_json rejects invalid JSON and names the field", "[json]") {
  for (const char* bad :
       {"", "{", "{\"a\":}", "[1,]", "{\"a\":1} {}", "nul", "'x'", "{a:1}", "01"}) {
    auto r = canonical_json(bad, "metadata", kMaxMetadataBytes);
    INFO("input: '" << bad << "'");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Contains("metadata"));
  }
  auto d = canonical_json("[1,", "data", kMaxDataBytes);
  REQUIRE_FALSE(d.ok());
  CHECK_THAT(d.status().message(), Contains("data is not valid JSON"));
}

TEST_CASE("canonical_json bounds the size and the nesting depth", "[json]") {
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  auto nested_obj = [](int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += "{\"k\":";
    s += "1";
    s += std::string(depth, '}');
    return s;
  };
  auto ok64 = canonical_json(nested(kMaxJsonDepth), "data", kMaxDataBytes);
  INFO(ok64.status().to_string());
  CHECK(ok64.ok());
  CHECK(canonical_json(nested_obj(kMaxJsonDepth), "data", kMaxDataBytes).ok());

  for (const auto& deep :
       {nested(kMaxJsonDepth + 1), nested_obj(kMaxJsonDepth + 1), nested(100'000)}) {
    auto r = canonical_json(deep, "data", kMaxDataBytes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Contains("data nests deeper than 64"));
  }

  CHECK(json_depth_within(nested(64), 64));
  CHECK_FALSE(json_depth_within(nested(65), 64));
  CHECK(json_depth_within("[\"[[[[\"]", 1));  // brackets in strings do not count

  auto big = canonical_json("\"" + std::string(20, 'x') + "\"", "data", 10);
  REQUIRE_FALSE(big.ok());
  CHECK_THAT(big.status().message(), Contains("data is 22 bytes; the limit is 10"));
}

TEST_CASE("canonical_json rejects invalid UTF-8", "[json]") {
  for (std::string bad :
       {std::string("\"\xff\""), std::string("\"a\xc3\""), std::string("\"\xc0\xaf\""),
        std::string("\"\xed\xa0\x80\""), std::string("{\"k\xfe\":1}")}) {
    auto r = canonical_json(bad, "data", kMaxDataBytes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Contains("data"));
  }
  // Escapes must encode Unicode scalar values too: a lone surrogate would
  // come out as bytes that are not UTF-8.
  for (const char* bad : {R"("\udc00")", R"(["x\udfffy"])", R"("\ud800")", R"("\ud800\u0041")"}) {
    INFO("input: " << bad);
    auto r = canonical_json(bad, "data", kMaxDataBytes);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
  auto pair = canonical_json(R"("\ud83d\ude00")", "data", kMaxDataBytes);
  REQUIRE(pair.ok());
  CHECK(*pair == "\"\xf0\x9f\x98\x80\"");  // U+1F600, as UTF-8
  CHECK(is_valid_utf8(*pair));
}

TEST_CASE("JsonShape::kObject accepts only objects", "[json]") {
  CHECK(canonical_json(" {\"a\":1} ", "metadata", kMaxMetadataBytes, JsonShape::kObject).ok());
  CHECK(canonical_json("{}", "metadata", kMaxMetadataBytes, JsonShape::kObject).ok());
  for (const char* not_object : {"[]", "[{}]", "1", "\"{}\"", "null", "true"}) {
    INFO(not_object);
    auto r = canonical_json(not_object, "metadata", kMaxMetadataBytes, JsonShape::kObject);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK_THAT(r.status().message(), Contains("metadata must be a JSON object"));
    CHECK(canonical_json(not_object, "metadata", kMaxMetadataBytes, JsonShape::kAnyValue).ok());
  }
}

TEST_CASE("append_event_json writes one parseable object", "[json]") {
  RecordedEvent e;
  e.position = 42;
  e.stream = "we\"ird\n-1";
  e.version = 7;
  e.id = Uuid::v7();
  e.type = "T\\\x01";
  e.time_us = 1'700'000'000'123'456;
  e.data = R"({"n":12345678901234567890123,"s":"x"})";

  auto parse = [](const std::string& text) {
    auto d = std::make_unique<rapidjson::Document>();
    d->Parse(text.c_str(), text.size());
    return d;
  };

  SECTION("without metadata") {
    std::string out = "prefix:";
    append_event_json(out, e);
    REQUIRE(out.rfind("prefix:", 0) == 0);
    std::string json = out.substr(7);
    CHECK(json.find('\n') == std::string::npos);
    auto d = parse(json);
    REQUIRE_FALSE(d->HasParseError());
    REQUIRE(d->IsObject());
    CHECK((*d)["position"].GetUint64() == 42);
    CHECK(std::string((*d)["stream"].GetString()) == e.stream);
    CHECK((*d)["version"].GetUint64() == 7);
    CHECK(std::string((*d)["id"].GetString()) == e.id.to_string());
    CHECK(std::string((*d)["type"].GetString(), (*d)["type"].GetStringLength()) == e.type);
    CHECK(std::string((*d)["time"].GetString()) == "2023-11-14T22:13:20.123456Z");
    CHECK((*d)["data"].IsObject());
    CHECK(std::string((*d)["data"]["s"].GetString()) == "x");
    CHECK_FALSE(d->HasMember("metadata"));
    CHECK_THAT(json, Contains("12345678901234567890123"));  // data is copied verbatim
  }
  SECTION("with metadata") {
    e.metadata = R"({"user":"u"})";
    std::string out;
    append_event_json(out, e);
    auto d = parse(out);
    REQUIRE_FALSE(d->HasParseError());
    REQUIRE(d->HasMember("metadata"));
    CHECK(std::string((*d)["metadata"]["user"].GetString()) == "u");
  }
}

TEST_CASE("parse_event_fields reads one event line", "[json]") {
  SECTION("all fields, data and metadata canonical, numbers exact") {
    auto f = parse_event_fields(
        R"({"position":3,"stream":"order-1","version":0,"id":"0189abcd-ef01-7abc-8def-0123456789ab",)"
        R"("type":"Placed","time":"x","data": { "n" : 12345678901234567890123 , "f":1.10, "a":[ {"data":1} ] },)"
        R"("metadata":{ "u" : "v" }})");
    INFO(f.status().to_string());
    REQUIRE(f.ok());
    CHECK(f->stream == std::optional<std::string>("order-1"));
    CHECK(f->type == std::optional<std::string>("Placed"));
    CHECK(f->id == std::optional<std::string>("0189abcd-ef01-7abc-8def-0123456789ab"));
    CHECK(f->data ==
          std::optional<std::string>(R"({"n":12345678901234567890123,"f":1.10,"a":[{"data":1}]})"));
    CHECK(f->metadata == std::optional<std::string>(R"({"u":"v"})"));
  }
  SECTION("scalar data, absent and null fields") {
    auto f = parse_event_fields(R"({"type":"T","data":"text","metadata":null,"stream":null})");
    REQUIRE(f.ok());
    CHECK(f->data == std::optional<std::string>(R"("text")"));
    CHECK_FALSE(f->metadata.has_value());
    CHECK_FALSE(f->stream.has_value());
    CHECK_FALSE(f->id.has_value());
    auto g = parse_event_fields(R"({"type":"T","data":-0.5e3})");
    REQUIRE(g.ok());
    CHECK(g->data == std::optional<std::string>("-0.5e3"));
  }
  SECTION("other members are listed as unknown keys and skipped, however nested") {
    auto f = parse_event_fields(
        R"({"extra":{"data":[1],"stream":"no"},"more":[["type"]],"type":"T","data":[]})");
    REQUIRE(f.ok());
    CHECK(f->data == std::optional<std::string>("[]"));
    CHECK(f->type == std::optional<std::string>("T"));
    CHECK_FALSE(f->stream.has_value());
    CHECK(f->unknown_keys == std::vector<std::string>{"extra", "more"});
  }
  SECTION("expect: a string or a number, as written; es read's members are known") {
    auto f = parse_event_fields(
        R"({"position":1,"version":2,"time":"t","type":"T","data":1,"expect":7})");
    REQUIRE(f.ok());
    CHECK(f->expect == std::optional<std::string>("7"));
    CHECK(f->unknown_keys.empty());
    auto g = parse_event_fields(R"({"type":"T","data":1,"expect":"no-stream"})");
    REQUIRE(g.ok());
    CHECK(g->expect == std::optional<std::string>("no-stream"));
    CHECK_FALSE(parse_event_fields(R"({"type":"T","data":1,"expect":[1]})").ok());
  }
  SECTION("errors") {
    for (const char* bad : {R"([1])", R"("x")", R"(1)", R"({"type":1})", R"({"stream":{}})",
                            R"({"id":["x"]})", R"({"type":"T","data":)", R"({"type":"T"} x)"}) {
      INFO("input: " << bad);
      auto f = parse_event_fields(bad);
      REQUIRE_FALSE(f.ok());
      CHECK(f.status().code() == Code::kInvalidArgument);
    }
    auto named = parse_event_fields(R"({"type":7})");
    CHECK_THAT(named.status().message(), Contains("\"type\" must be a string"));
    std::string deep = R"({"data":)" + std::string(kMaxJsonDepth + 1, '[') +
                       std::string(kMaxJsonDepth + 1, ']') + "}";
    auto too_deep = parse_event_fields(deep);
    REQUIRE_FALSE(too_deep.ok());
    CHECK_THAT(too_deep.status().message(), Contains("deeper than 64"));
    std::string ok_deep =
        R"({"data":)" + std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']') + "}";
    CHECK(parse_event_fields(ok_deep).ok());
  }
}

TEST_CASE("append_json_string escapes what JSON requires", "[json]") {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\x01\x7f", 8));
  CHECK(out == "\"a\\\"b\\\\c\\n\\u0001\\u007f\"");
}

TEST_CASE("format_time_us", "[json]") {
  CHECK(format_time_us(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(format_time_us(1) == "1970-01-01T00:00:00.000001Z");
  CHECK(format_time_us(1'700'000'000'123'456) == "2023-11-14T22:13:20.123456Z");
  CHECK(format_time_us(-1) == "1969-12-31T23:59:59.999999Z");
}

// ================================================================= uuid

TEST_CASE("Uuid::v7 ids are distinct and sort in creation order", "[uuid]") {
  constexpr int kCount = 10'000;
  std::vector<Uuid> made;
  made.reserve(kCount);
  for (int i = 0; i < kCount; ++i) made.push_back(Uuid::v7());
  std::size_t unordered = 0, bad_bits = 0;
  for (int i = 0; i < kCount; ++i) {
    const auto& b = made[i].bytes;
    if ((b[6] >> 4) != 7 || (b[8] >> 6) != 2) ++bad_bits;
    if (i > 0 && !(made[i - 1].bytes < made[i].bytes)) ++unordered;  // strictly, byte-wise
  }
  CHECK(unordered == 0);
  CHECK(bad_bits == 0);
  std::set<std::array<std::uint8_t, 16>> distinct;
  for (const auto& u : made) distinct.insert(u.bytes);
  CHECK(distinct.size() == static_cast<std::size_t>(kCount));
  CHECK_FALSE(made.front().is_nil());

  // The first 48 bits are the Unix time in milliseconds.
  std::uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = ms << 8 | made.back().bytes[i];
  const auto now_ms = static_cast<std::uint64_t>(now_us() / 1000);
  CHECK(ms <= now_ms + 1000);
  CHECK(ms + 60'000 >= now_ms);
}

TEST_CASE("Uuid parse and to_string round trip", "[uuid]") {
  for (int i = 0; i < 100; ++i) {
    Uuid u = Uuid::v7();
    auto p = Uuid::parse(u.to_string());
    REQUIRE(p.ok());
    CHECK(*p == u);
  }
  auto p = Uuid::parse("0189ABCD-ef01-7abc-8def-0123456789AB");
  REQUIRE(p.ok());
  CHECK(p->to_string() == "0189abcd-ef01-7abc-8def-0123456789ab");
  CHECK(p->bytes[0] == 0x01);
  CHECK(p->bytes[15] == 0xab);
  auto nil = Uuid::parse("00000000-0000-0000-0000-000000000000");
  REQUIRE(nil.ok());
  CHECK(nil->is_nil());
}

TEST_CASE("Uuid::parse rejects bad input", "[uuid]") {
  for (const char* bad : {
           "", "not-a-uuid",
           "0189abcd-ef01-7abc-8def-0123456789a",    // 35 chars
           "0189abcd-ef01-7abc-8def-0123456789abc",  // 37 chars
           "0189abcdef017abc8def0123456789ab",       // no dashes
           "0189abcd-ef01-7abc-8def-0123456789ag",   // bad hex digit
           "0189abcdef-01-7abc-8def-0123456789a",    // dash misplaced
           "{189abcd-ef01-7abc-8def-0123456789ab",   // brace
           " 189abcd-ef01-7abc-8def-0123456789ab",   // space
           "--89abcd-ef01-7abc-8def-0123456789ab",   // dashes for hex digits
           "0189abcd-ef01-7abc-8def-01234567--ab",   // dashes for hex digits
           "0189abcd-ef01-7abc-8def-0123456789-b",   // dash in last group
       }) {
    INFO("input: '" << bad << "'");
    auto r = Uuid::parse(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.status().code() == Code::kInvalidArgument);
  }
}

// ======================================================= expected version

TEST_CASE("ExpectedVersion::parse", "[types]") {
  auto any = ExpectedVersion::parse("any");
  REQUIRE(any.ok());
  CHECK(any->kind() == ExpectedVersion::Kind::kAny);
  auto none = ExpectedVersion::parse("no-stream");
  REQUIRE(none.ok());
  CHECK(none->kind() == ExpectedVersion::Kind::kNoStream);
  auto exists = ExpectedVersion::parse("exists");
  REQUIRE(exists.ok());
  CHECK(exists->kind() == ExpectedVersion::Kind::kExists);
  auto twelve = ExpectedVersion::parse("12");
  REQUIRE(twelve.ok());
  CHECK(twelve->kind() == ExpectedVersion::Kind::kExact);
  CHECK(twelve->version() == 12);
  auto zero = ExpectedVersion::parse("0");
  REQUIRE(zero.ok());
  CHECK(zero->version() == 0);

  for (const char* text : {"any", "no-stream", "exists", "12", "0", "18446744073709551615"}) {
    auto p = ExpectedVersion::parse(text);
    REQUIRE(p.ok());
    CHECK(p->to_string() == text);
  }
  for (const char* bad : {"x", "-1", "", "12x", " 12", "+1", "Any", "18446744073709551616"}) {
    INFO("input: '" << bad << "'");
    auto p = ExpectedVersion::parse(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == Code::kInvalidArgument);
    CHECK_THAT(p.status().message(), Contains("'" + std::string(bad) + "'"));
  }
}

TEST_CASE("ExpectedVersion::admits and category_of", "[types]") {
  CHECK(ExpectedVersion::any().admits(std::nullopt));
  CHECK(ExpectedVersion::any().admits(3));
  CHECK(ExpectedVersion::no_stream().admits(std::nullopt));
  CHECK_FALSE(ExpectedVersion::no_stream().admits(0));
  CHECK_FALSE(ExpectedVersion::exists().admits(std::nullopt));
  CHECK(ExpectedVersion::exists().admits(0));
  CHECK(ExpectedVersion::exact(3).admits(3));
  CHECK_FALSE(ExpectedVersion::exact(3).admits(2));
  CHECK_FALSE(ExpectedVersion::exact(0).admits(std::nullopt));
  CHECK(category_of("order-42") == "order");
  CHECK(category_of("order-42-x") == "order");
  CHECK(category_of("order") == "order");
}

// ================================================================ checkpoints

namespace {

// Moves checkpoints in one group (no appends) and returns what each holds.
std::vector<Result<Position>> move_checkpoints(Store& store, std::vector<Checkpoint> moves) {
  std::vector<Result<AppendResult>> results;
  std::vector<RecordedEvent> committed;
  std::vector<Result<Position>> held;
  Status s = store.append_group({}, &results, &committed, moves, &held);
  INFO(s.to_string());
  REQUIRE(s.ok());
  REQUIRE(held.size() == moves.size());
  return held;
}

}  // namespace

TEST_CASE("checkpoints move forward only, never past the head, and survive a reopen",
          "[store][checkpoint]") {
  TempDir dir;
  {
    auto store = open_store(dir.path());
    CHECK_FALSE(store->checkpoint("mailer")->has_value());
    must_append(*store, req({ev("a"), ev("a"), ev("b")}));  // head 3

    auto held = move_checkpoints(*store, {{"mailer", 2}, {"audit", 1}});
    CHECK(*held[0] == 2);
    CHECK(*held[1] == 1);
    CHECK(store->checkpoint("mailer")->value() == 2);

    // Backwards is ignored: the stored position stays and is reported.
    held = move_checkpoints(*store, {{"mailer", 1}});
    CHECK(*held[0] == 2);
    // Past the head is refused, and names are checked; the others still move.
    held = move_checkpoints(*store, {{"mailer", 4}, {"", 1}, {"audit", 3}});
    REQUIRE_FALSE(held[0].ok());
    CHECK(held[0].status().code() == Code::kInvalidArgument);
    CHECK(held[0].status().message().find("beyond the head 3") != std::string::npos);
    REQUIRE_FALSE(held[1].ok());
    CHECK(*held[2] == 3);
    CHECK(store->head() == 3);  // moving checkpoints appends nothing
  }
  auto store = open_store(dir.path());
  auto all = store->checkpoints();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name == "audit");
  CHECK((*all)[0].position == 3);
  CHECK((*all)[1].name == "mailer");
  CHECK((*all)[1].position == 2);
}

TEST_CASE("a checkpoint may reach events appended in the same group", "[store][checkpoint]") {
  TempDir dir;
  auto store = open_store(dir.path());
  AppendRequest r = req({ev("a"), ev("a")});
  const AppendRequest* group[] = {&r};
  std::vector<Result<AppendResult>> results;
  std::vector<RecordedEvent> committed;
  std::vector<Result<Position>> held;
  std::vector<Checkpoint> moves = {{"n", 2}};
  REQUIRE(store->append_group(group, &results, &committed, moves, &held).ok());
  REQUIRE(held.size() == 1);
  CHECK(*held[0] == 2);
}

TEST_CASE("group slots are a stable hash of the stream name", "[group]") {
  // FNV-1a: fixed across versions, since members rely on it.
  CHECK(es::group_slot("") == 14695981039346656037ull % es::kGroupSlots);
  CHECK(es::group_slot("order-42") == es::group_slot(std::string("order-") + "42"));
  std::array<int, es::kGroupSlots> hits{};
  for (int i = 0; i < 6400; ++i) ++hits[es::group_slot("s-" + std::to_string(i))];
  for (int h : hits) CHECK(h > 40);  // spread: about 100 each
  CHECK(es::group_checkpoint_name("billing", 7) == "$group/billing/7");
}

// ---------------------------------------------------------------- chains and replication

TEST_CASE("every event's chain digests the log up to it, and verify recomputes it",
          "[store][chain]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("a-1"), ev("b-1", "Other", "{\"x\":1}")}));
  must_append(*store, req({ev("a-1")}));
  auto all = read_all(*store);
  REQUIRE(all.size() == 3);
  Chain chain = kChainStart;
  for (const auto& e : all) {
    chain = chain_next(chain, e);
    CHECK(e.chain == chain);
    auto at = store->chain_at(e.position);
    REQUIRE(at.ok());
    CHECK(*at == chain);
  }
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK(report->head == 3);
  CHECK(report->events == 3);
  CHECK(report->chain == chain);
  CHECK(to_hex(chain).size() == 32);
  auto prefix = store->verify(2);
  REQUIRE(prefix.ok());
  CHECK(prefix->head == 2);
  CHECK(prefix->events == 2);
  CHECK(prefix->chain == all[1].chain);
  CHECK(store->verify(4).status().code() == Code::kNotFound);
  CHECK(store->chain_at(4).status().code() == Code::kNotFound);
  CHECK(*store->chain_at(0) == kChainStart);
}

TEST_CASE("a replica copies names stored before today's rules, and reads find them",
          "[store][replicate][validate]") {
  // An older primary let a bidirectional override into a stream name.
  RecordedEvent e;
  e.position = 1;
  e.stream = "order\u202E-1";
  e.version = 0;
  e.id = Uuid::v7();
  e.type = "Placed\u200B";
  e.time_us = 1'000'000;
  e.data = "{}";
  std::string record;
  store::encode_record(e, &record);
  e.chain = chain_next(kChainStart, e.position, record);
  TempDir dir;
  auto replica = open_store(dir.path());
  std::vector<RecordedEvent> committed;
  REQUIRE(replica->replicate(std::span(&e, 1), &committed).ok());
  CHECK(read_stream(*replica, e.stream).size() == 1);
  CHECK(replica->verify().ok());
  // New appends to it are refused; an expectation about it is not.
  CHECK(Store::validate(req({ev(e.stream)})).code() == Code::kInvalidArgument);
  CHECK(Store::validate(req({ev("other")}, {expect(e.stream, ExpectedVersion::exact(0))})).ok());
  // A read is refused by length alone, before it is used or echoed.
  ReadRequest huge;
  huge.stream = std::string(1u << 20, 'x');
  auto r = replica->read(huge);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "stream name is 1048576 bytes; no name is longer than 255");
}

TEST_CASE("a replica's store copies events and keeps their positions, versions and chains",
          "[store][replicate]") {
  TempDir primary_dir, replica_dir;
  auto primary = open_store(primary_dir.path());
  for (int i = 0; i < 5; ++i) must_append(*primary, req({ev("order-" + std::to_string(i % 2))}));
  auto events = read_all(*primary);
  auto replica = open_store(replica_dir.path());
  std::vector<RecordedEvent> committed;
  REQUIRE(replica->replicate(std::span(events).first(3), &committed).ok());
  CHECK(committed.size() == 3);
  REQUIRE(replica->replicate(std::span(events).subspan(3), &committed).ok());
  CHECK(replica->head() == 5);
  require_same_events(read_all(*replica), events);
  CHECK(read_stream(*replica, "order-0").size() == 3);
  CHECK(replica->verify()->chain == primary->verify()->chain);
  CHECK(replica->head_time_us() == primary->head_time_us());
  // Appending on top goes on from the copied head and chain.
  must_append(*replica, req({ev("order-0")}));
  CHECK(read_stream(*replica, "order-0").back().version == 3);
  CHECK(replica->verify().ok());
}

TEST_CASE("a replica's store refuses a gap, a repeat, another version or another chain",
          "[store][replicate]") {
  TempDir primary_dir, replica_dir;
  auto primary = open_store(primary_dir.path());
  for (int i = 0; i < 4; ++i) must_append(*primary, req({ev("s-1")}));
  auto events = read_all(*primary);
  auto replica = open_store(replica_dir.path());
  std::vector<RecordedEvent> committed;
  REQUIRE(replica->replicate(std::span(events).first(2), &committed).ok());

  auto refused = [&](std::vector<RecordedEvent> batch, const std::string& says) {
    Status s = replica->replicate(batch, &committed);
    INFO(s.to_string());
    CHECK(s.code() == Code::kDiverged);
    CHECK(s.message().find(says) != std::string::npos);
    CHECK(committed.empty());
    CHECK(replica->head() == 2);
  };
  refused({events[3]}, "where this store expects 3");  // a gap
  refused({events[1]}, "where this store expects 3");  // a repeat
  RecordedEvent other_version = events[2];
  other_version.version = 7;
  refused({other_version}, "holds version 7");
  RecordedEvent other_data = events[2];
  other_data.data = "{\"changed\":true}";
  refused({other_data}, "chain digest");
  RecordedEvent same_id = events[2];
  same_id.id = events[0].id;
  refused({same_id}, "stored already");
  // Nothing of the refused batches was written; the right one still fits.
  REQUIRE(replica->replicate(std::span(events).subspan(2), &committed).ok());
  CHECK(replica->verify()->chain == primary->verify()->chain);
}

TEST_CASE("the chain verifier names a hole and an altered event", "[chain]") {
  TempDir dir;
  auto store = open_store(dir.path());
  must_append(*store, req({ev("a-1"), ev("a-1"), ev("a-1")}));
  auto all = read_all(*store);
  ChainVerifier hole;
  REQUIRE(hole.next(1, all[0].chain, chain_next(hole.chain(), all[0])).ok());
  Status skipped = hole.next(3, all[2].chain, chain_next(hole.chain(), all[2]));
  CHECK(skipped.code() == Code::kCorruption);
  CHECK_THAT(skipped.message(), Contains("position 2 is missing"));
  ChainVerifier altered;
  RecordedEvent changed = all[0];
  changed.data = "{\"x\":2}";
  Status s = altered.next(1, changed.chain, chain_next(altered.chain(), changed));
  CHECK(s.code() == Code::kCorruption);
  CHECK_THAT(s.message(),
             Contains("position 1: the stored chain digest is " + to_hex(all[0].chain)));
  CHECK(altered.head() == 0);
}

TEST_CASE("is_canonical_json says yes only when canonical_json returns the text unchanged",
          "[json]") {
  // Exactly then, but for numbers with exponents of three digits, which it
  // leaves to canonical_json.
  auto agrees = [](const std::string& text, JsonShape shape) {
    auto c = canonical_json(text, "data", kMaxDataBytes, shape);
    const bool canonical = c.ok() && *c == text;
    const bool fast = is_canonical_json(text, shape);
    INFO("text: " << text);
    if (fast) CHECK(canonical);
    bool big_exponent = false;
    for (std::size_t i = 0; i + 3 < text.size(); ++i) {
      std::size_t j = i + 1;
      if (text[i] != 'e' && text[i] != 'E') continue;
      if (text[j] == '+' || text[j] == '-') ++j;
      big_exponent |= j + 2 < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) &&
                      std::isdigit(static_cast<unsigned char>(text[j + 1])) &&
                      std::isdigit(static_cast<unsigned char>(text[j + 2]));
    }
    if (!big_exponent) CHECK(fast == canonical);
    return canonical;
  };
  const std::vector<std::string> samples = {"{}",
                                            "[]",
                                            "0",
                                            "-0",
                                            "1.5e+10",
                                            "1E5",
                                            "-12.25e-3",
                                            "01",
                                            "1.",
                                            ".5",
                                            "-",
                                            "1e",
                                            "true",
                                            "false",
                                            "null",
                                            "nul",
                                            "\"\"",
                                            "\"a\\\"b\\\\c\\/d\"",
                                            "\"\\b\\t\\n\\f\\r\"",
                                            "\"\\u0001\"",
                                            "\"\\u001F\"",
                                            "\"\\u001f\"",
                                            "\"\\u0008\"",
                                            "\"\\u0041\"",
                                            "\"\\ud83d\\ude00\"",
                                            "\"\xf0\x9f\x98\x80\"",
                                            "\"\xc3\xa9\"",
                                            "\"\xc0\xaf\"",
                                            "\"\xed\xa0\x80\"",
                                            "\"\xf4\x90\x80\x80\"",
                                            "\"\x7f\"",
                                            "\"a\tb\"",
                                            "{\"a\":1,\"a\":2}",
                                            "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}",
                                            "{ \"a\":1}",
                                            "{\"a\" :1}",
                                            "[1, 2]",
                                            "[1,]",
                                            "{\"a\":1,}",
                                            "[1]x",
                                            " 1",
                                            "{\"a\"}",
                                            "[",
                                            "\"unterminated",
                                            "{\"n\":\"000000000012\",\"note\":\"xxxx\"}"};
  for (const auto& s : samples) agrees(s, JsonShape::kAnyValue);
  CHECK(agrees("{\"a\":1}", JsonShape::kObject));
  CHECK_FALSE(agrees("[1]", JsonShape::kObject));
  std::string deep(kMaxJsonDepth, '['), deeper(kMaxJsonDepth + 1, '[');
  CHECK(agrees(deep + std::string(kMaxJsonDepth, ']'), JsonShape::kAnyValue));
  CHECK_FALSE(agrees(deeper + std::string(kMaxJsonDepth + 1, ']'), JsonShape::kAnyValue));

  // Random edits of canonical documents: a byte inserted, removed or changed.
  const std::string alphabet = " \t\n{}[],:\"\\/0123456789.eE+-abfnrtu\x01\x7f\xc3\xa9\xff";
  std::uint64_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::size_t>(seed >> 33);
  };
  int canonical = 0, tried = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string t = samples[next() % samples.size()];
    for (int edits = 1 + static_cast<int>(next() % 3); edits > 0; --edits) {
      const std::size_t at = t.empty() ? 0 : next() % (t.size() + 1);
      const char c = alphabet[next() % alphabet.size()];
      switch (next() % 3) {
        case 0:
          t.insert(t.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        case 1:
          if (at < t.size()) t.erase(at, 1);
          break;
        default:
          if (at < t.size()) t[at] = c;
      }
    }
    ++tried;
    if (agrees(t, JsonShape::kAnyValue)) ++canonical;
  }
  CHECK(canonical > 1000);  // both answers were exercised
  CHECK(tried - canonical > 1000);
}

// ------------------------------------------- reads across LMDB and the tail

namespace {

// Pages through `rq` (forwards or backwards) with small pages.
std::vector<RecordedEvent> page_through(const Store& store, ReadRequest rq) {
  std::vector<RecordedEvent> out;
  for (int guard = 0; guard < 10000; ++guard) {
    ReadResult page = must_read(store, rq);
    out.insert(out.end(), page.events.begin(), page.events.end());
    if (page.end) return out;
    rq.from = page.next;
    rq.from_end = false;
  }
  FAIL("no end");
  return out;
}

std::vector<Position> iota_down(Position from, Position to) {
  std::vector<Position> out;
  for (Position p = from; p >= to && p > 0; --p) out.push_back(p);
  return out;
}

}  // namespace

TEST_CASE("reads see LMDB and the tail as one log", "[store][tail]") {
  TempDir dir;
  auto store = open_store(dir.path());
  // 1..60 applied to LMDB, 61..100 in the tail only (the applier waits).
  for (int i = 0; i < 60; ++i) must_append(*store, req({ev("s-" + std::to_string(i % 3))}));
  REQUIRE(store->wait_applied().ok());
  for (int i = 60; i < 100; ++i) must_append(*store, req({ev("s-" + std::to_string(i % 4))}));
  Checkpoint moved{"reader", 80};
  std::vector<Result<AppendResult>> results;
  std::vector<RecordedEvent> committed;
  std::vector<Result<Position>> moved_to;
  REQUIRE(store->append_group({}, &results, &committed, std::span(&moved, 1), &moved_to).ok());

  for (std::uint32_t limit : {1u, 7u, 100u}) {
    ReadRequest rq = all_rq();
    rq.limit = limit;
    rq.from = 1;
    CHECK(positions(page_through(*store, rq)) == iota(1, 100));
    rq.backwards = true;
    rq.from_end = true;
    CHECK(positions(page_through(*store, rq)) == iota_down(100, 1));
    rq.from_end = false;
    rq.from = 65;  // from inside the tail, backwards into LMDB
    CHECK(positions(page_through(*store, rq)) == iota_down(65, 1));
  }
  // s-0: versions 0..19 in LMDB (every 3rd of 1..60), 20..29 in the tail.
  auto s0 = read_stream(*store, "s-0");
  REQUIRE(s0.size() == 30);
  CHECK(versions(s0) == std::vector<Version>([] {
          std::vector<Version> v(30);
          for (Version i = 0; i < 30; ++i) v[i] = i;
          return v;
        }()));
  ReadRequest back = stream_rq("s-0");
  back.backwards = true;
  back.from_end = true;
  back.limit = 4;
  auto s0_back = page_through(*store, back);
  REQUIRE(s0_back.size() == 30);
  CHECK(s0_back.front().version == 29);
  CHECK(s0_back.back().version == 0);
  // s-3 exists only in the tail.
  CHECK(read_stream(*store, "s-3").size() == 10);
  CHECK(store->stream_info("s-3")->value().last_version == 9);
  CHECK(store->stream_info("s-0")->value().last_version == 29);
  // The streams list merges both, in name order, paging included.
  auto all_streams = store->streams("s-", "", 100);
  REQUIRE(all_streams.ok());
  REQUIRE(all_streams->size() == 4);
  CHECK(all_streams->at(0).last_version == 29);
  CHECK(all_streams->at(3).stream == "s-3");
  auto page2 = store->streams("s-", "s-1", 2);
  REQUIRE(page2.ok());
  REQUIRE(page2->size() == 2);
  CHECK(page2->at(0).stream == "s-2");
  CHECK(page2->at(1).stream == "s-3");
  // Checkpoints and chains, from the tail; verify walks both.
  CHECK(store->checkpoint("reader")->value() == 80);
  CHECK(store->checkpoints()->size() == 1);
  CHECK(store->chain_at(100).value() == read_all(*store).back().chain);
  auto v = store->verify();
  REQUIRE(v.ok());
  CHECK(v->head == 100);
  // After the applier: the same answers from LMDB alone.
  REQUIRE(store->wait_applied().ok());
  CHECK(positions(read_all(*store)) == iota(1, 100));
  CHECK(store->checkpoint("reader")->value() == 80);
  CHECK(store->verify()->head == 100);
}

TEST_CASE("readers never miss a position while the applier moves the tail into LMDB",
          "[store][tail]") {
  TempDir dir;
  auto store = open_store(dir.path());
  std::atomic<bool> done{false};
  std::atomic<long> reads{0}, bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      while (!done) {
        ReadRequest rq = all_rq();
        rq.limit = static_cast<std::uint32_t>(kMaxReadLimit);
        rq.backwards = r == 1;
        rq.from_end = r == 1;
        auto page = store->read(rq);
        if (!page.ok()) {
          std::fprintf(stderr, "read failed: %s\n", page.status().to_string().c_str());
          ++bad;
          continue;
        }
        // One page holds everything up to its head: exactly 1..head.
        const auto& events = page->events;
        if (events.size() < 10'000) {
          for (std::size_t i = 0; i < events.size(); ++i) {
            const Position want = r == 0 ? i + 1 : page->head - i;
            if (events[i].position != want) {
              std::fprintf(stderr, "%s: event %zu is at %llu, not %llu (head %llu)\n",
                           r == 0 ? "forwards" : "backwards", i,
                           static_cast<unsigned long long>(events[i].position),
                           static_cast<unsigned long long>(want),
                           static_cast<unsigned long long>(page->head));
              ++bad;
              break;
            }
          }
          if (events.size() != page->head) {
            std::fprintf(stderr, "%s: %zu events for head %llu\n",
                         r == 0 ? "forwards" : "backwards", events.size(),
                         static_cast<unsigned long long>(page->head));
            ++bad;
          }
        }
        ++reads;
      }
    });
  }
  for (int i = 0; i < 3000; ++i) {
    must_append(*store, req({ev("c-" + std::to_string(i % 5))}));
    if (i % 500 == 0) REQUIRE(store->wait_applied().ok());  // the tail moves under the readers
  }
  done = true;
  for (auto& t : readers) t.join();
  CHECK(bad == 0);
  CHECK(reads > 10);
}

// ===================================================== deletion and retention

namespace {

ProposedEvent rules_event(const std::string& stream, std::string_view type,
                          const StreamRules& rules) {
  return ProposedEvent{metadata_stream_of(stream), Uuid::v7(), std::string(type), rules_json(rules),
                       ""};
}

std::vector<RecordedEvent> read_raw(const Store& store) {
  ReadRequest rq = all_rq();
  rq.raw = true;
  rq.limit = static_cast<std::uint32_t>(kMaxReadLimit);
  return must_read(store, rq).events;
}

std::size_t holes_in(const std::vector<RecordedEvent>& events) {
  return static_cast<std::size_t>(
      std::count_if(events.begin(), events.end(), [](const auto& e) { return e.removed; }));
}

void append_n(Store& store, const std::string& stream, int n) {
  for (int i = 0; i < n; ++i)
    must_append(store, req({ev(stream, "Happened", "{\"i\":" + std::to_string(i) + "}")}));
}

}  // namespace

TEST_CASE("stream rules: JSON both ways, and what is wrong is named", "[store][rules]") {
  StreamRules r;
  r.truncate_before = 5;
  r.max_count = 10;
  r.max_age_s = 3600;
  CHECK(rules_json(r) == R"({"truncate_before":5,"max_count":10,"max_age":3600})");
  auto back = parse_rules(rules_json(r));
  REQUIRE(back.ok());
  CHECK(*back == r);
  CHECK_THAT(parse_rules(R"({"max_cout":3})").status().message(), Contains("max_cout"));
  CHECK_THAT(parse_rules(R"({"max_count":0})").status().message(), Contains("at least 1"));
  CHECK_THAT(parse_rules(R"({"max_count":"3"})").status().message(), Contains("whole number"));
  CHECK_THAT(parse_rules(R"({"max_count":-3})").status().message(), Contains("whole number"));
  CHECK_FALSE(parse_rules("[]").ok());
  CHECK_FALSE(rules_of("$metadata", R"({"tombstone":true})").ok());
  CHECK_FALSE(rules_of("Happened", "{}").ok());
  CHECK(r.visible_from(20) == 11);  // the last 10 of 0..20
  CHECK(r.visible_from(7) == 5);    // truncate_before wins
}

TEST_CASE("a metadata stream takes only lifecycle events with valid rules", "[store][rules]") {
  TempDir dir;
  auto store = open_store(dir.path());
  auto bad_type = store->append(req({ProposedEvent{"$$s", Uuid::v7(), "Happened", "{}", ""}}));
  REQUIRE_FALSE(bad_type.ok());
  CHECK(bad_type.status().code() == Code::kInvalidArgument);
  CHECK_THAT(bad_type.status().message(), Contains("$$s"));
  auto bad_rules =
      store->append(req({ProposedEvent{"$$s", Uuid::v7(), "$metadata", R"({"max_count":0})", ""}}));
  REQUIRE_FALSE(bad_rules.ok());
  CHECK_THAT(bad_rules.status().message(), Contains("max_count"));
  CHECK(store->head() == 0);
}

TEST_CASE(
    "soft delete: the stream reads as gone, is written again from its next version, and "
    "its events become holes the chain still checks across",
    "[store][rules]") {
  TempDir dir;
  auto store = open_store(dir.path());
  append_n(*store, "user-3", 5);
  append_n(*store, "other", 2);
  StreamRules del;
  del.truncate_before = 5;
  must_append(*store, req({rules_event("user-3", kDeletedType, del)}));
  // At once, before the applier removed anything.
  auto gone = store->read(stream_rq("user-3"));
  REQUIRE_FALSE(gone.ok());
  CHECK(gone.status().code() == Code::kStreamDeleted);
  auto all = read_all(*store);
  REQUIRE(all.size() == 3);  // other's two and the deletion
  CHECK(all[2].stream == "$$user-3");
  CHECK(all[2].type == "$deleted");
  // Written again: from version 5 on, and only that shows.
  must_append(*store, req({ev("user-3", "Registered")}));
  auto again = read_stream(*store, "user-3");
  REQUIRE(again.size() == 1);
  CHECK(again[0].version == 5);
  ReadRequest back = stream_rq("user-3");
  back.backwards = true;
  back.from_end = true;
  CHECK(versions(must_read(*store, back).events) == std::vector<Version>{5});
  // Removed for real once applied: five holes, the chain checks.
  REQUIRE(store->wait_applied().ok());
  auto raw = read_raw(*store);
  REQUIRE(raw.size() == 9);
  CHECK(holes_in(raw) == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(raw[i].removed);
    CHECK(raw[i].stream == "user-3");
    CHECK(raw[i].data.empty());
  }
  auto report = store->verify();
  INFO(report.status().to_string());
  REQUIRE(report.ok());
  CHECK(report->head == 9);
  CHECK(report->holes == 5);
  // The same after a restart (the rules are read back from the log).
  store.reset();
  store = open_store(dir.path());
  CHECK(versions(read_stream(*store, "user-3")) == std::vector<Version>{5});
  CHECK(store->rules("user-3").truncate_before == 5);
  CHECK(store->verify().ok());
}

TEST_CASE("hard delete: a tombstone refuses appends and rule changes for good", "[store][rules]") {
  TempDir dir;
  auto store = open_store(dir.path());
  append_n(*store, "s", 3);
  StreamRules tomb;
  tomb.tombstone = true;
  tomb.truncate_before = 3;
  must_append(*store, req({rules_event("s", kTombstoneType, tomb)}));
  auto append = store->append(req({ev("s")}));
  REQUIRE_FALSE(append.ok());
  CHECK(append.status().code() == Code::kStreamDeleted);
  CHECK_THAT(append.status().message(), Contains("for good"));
  auto change = store->append(req({rules_event("s", kMetadataType, StreamRules{})}));
  REQUIRE_FALSE(change.ok());
  CHECK(change.status().code() == Code::kStreamDeleted);
  auto read = store->read(stream_rq("s"));
  REQUIRE_FALSE(read.ok());
  CHECK_THAT(read.status().message(), Contains("for good"));
  // A tombstone and an append to it in one group: the append fails alone.
  must_append(*store, req({ev("t")}));
  const AppendRequest a = req({rules_event("t", kTombstoneType, tomb)});
  const AppendRequest b = req({ev("t")});
  const AppendRequest* both[] = {&a, &b};
  std::vector<Result<AppendResult>> results;
  std::vector<RecordedEvent> committed;
  REQUIRE(store->append_group(both, &results, &committed).ok());
  CHECK(results[0].ok());
  REQUIRE_FALSE(results[1].ok());
  CHECK(results[1].status().code() == Code::kStreamDeleted);
  REQUIRE(store->wait_applied().ok());
  CHECK(holes_in(read_raw(*store)) == 4);
  CHECK(store->verify().ok());
}

TEST_CASE("max_count keeps the last N; the removed ids are free again", "[store][rules]") {
  TempDir dir;
  auto store = open_store(dir.path());
  StreamRules keep;
  keep.max_count = 2;
  must_append(*store, req({rules_event("c", kMetadataType, keep)}));
  const ProposedEvent first = ev("c");
  must_append(*store, req({first}));
  append_n(*store, "c", 4);
  CHECK(versions(read_stream(*store, "c")) == std::vector<Version>{3, 4});
  CHECK(read_all(*store).size() == 3);  // the rules event and the last two
  REQUIRE(store->wait_applied().ok());
  CHECK(holes_in(read_raw(*store)) == 3);
  // The first event's id is gone with it: sending it again appends anew.
  auto again = store->append(req({first}));
  REQUIRE(again.ok());
  CHECK_FALSE(again->already_stored);
  CHECK(versions(read_stream(*store, "c")) == std::vector<Version>{4, 5});
  REQUIRE(store->wait_applied().ok());
  CHECK(holes_in(read_raw(*store)) == 4);
  auto report = store->verify();
  REQUIRE(report.ok());
  CHECK(report->holes == 4);
}

TEST_CASE("max_age hides events as they age, and a sweep removes them", "[store][rules]") {
  TempDir dir;
  auto store = open_store(dir.path());
  append_n(*store, "a", 3);
  StreamRules age;
  age.max_age_s = 1;
  must_append(*store, req({rules_event("a", kMetadataType, age)}));
  CHECK(read_stream(*store, "a").size() == 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  must_append(*store, req({ev("a")}));
  CHECK(versions(read_stream(*store, "a")) == std::vector<Version>{3});
  REQUIRE(store->wait_applied().ok());
  REQUIRE(store->sweep_expired().ok());
  CHECK(holes_in(read_raw(*store)) == 3);
  CHECK(store->verify().ok());
}

TEST_CASE("truncate_before hides the versions before it; a later $metadata lifts nothing back",
          "[store][rules]") {
  TempDir dir;
  auto store = open_store(dir.path());
  append_n(*store, "t", 5);
  StreamRules cut;
  cut.truncate_before = 3;
  must_append(*store, req({rules_event("t", kMetadataType, cut)}));
  CHECK(versions(read_stream(*store, "t")) == std::vector<Version>{3, 4});
  REQUIRE(store->wait_applied().ok());
  must_append(*store, req({rules_event("t", kMetadataType, StreamRules{})}));
  REQUIRE(store->wait_applied().ok());
  CHECK(versions(read_stream(*store, "t")) == std::vector<Version>{3, 4});  // removed is gone
  CHECK(store->rules("t").empty());
}

TEST_CASE("a replica copies holes and rules: the same chain, the same reads", "[store][rules]") {
  TempDir dir_a, dir_b;
  auto primary = open_store(dir_a.path());
  append_n(*primary, "r", 4);
  StreamRules keep;
  keep.max_count = 1;
  must_append(*primary, req({rules_event("r", kMetadataType, keep)}));
  REQUIRE(primary->wait_applied().ok());
  auto raw = read_raw(*primary);
  REQUIRE(holes_in(raw) == 3);
  auto replica = open_store(dir_b.path());
  std::vector<RecordedEvent> committed;
  auto s = replica->replicate(raw, &committed);
  INFO(s.to_string());
  REQUIRE(s.ok());
  CHECK(versions(read_stream(*replica, "r")) == std::vector<Version>{3});
  must_append(*primary, req({ev("r")}));
  auto more = read_raw(*primary);
  REQUIRE(replica->replicate(std::span(more).subspan(raw.size()), &committed).ok());
  CHECK(versions(read_stream(*replica, "r")) == std::vector<Version>{4});
  REQUIRE(replica->wait_applied().ok());
  REQUIRE(primary->wait_applied().ok());
  CHECK(holes_in(read_raw(*replica)) == 4);
  CHECK(replica->chain_at(6).value() == primary->chain_at(6).value());
  CHECK(replica->verify().ok());
  CHECK(primary->verify().ok());
}

// Unit tests of the tail's id table (store/tail.h): every id held is found,
// none trimmed is, with ids made by hand (sequential, all but one byte
// equal) as well as random ones, through growth and backward-shift
// deletions, against a std::map model.
#include "store/tail.h"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "es/uuid.h"

#include "store/id_filter.h"

using namespace es;
using es::store::Tail;

namespace {

Uuid sequential_id(std::uint64_t n) {
  Uuid u;
  for (int i = 0; i < 8; ++i) u.bytes[static_cast<std::size_t>(15 - i)] = n >> (8 * i) & 0xff;
  return u;
}

Uuid random_id(std::mt19937_64& rng) {
  Uuid u;
  for (auto& b : u.bytes) b = static_cast<std::uint8_t>(rng());
  return u;
}

RecordedEvent event(Position p, const Uuid& id) {
  RecordedEvent e;
  e.position = p;
  e.version = p - 1;
  e.stream = "s-" + std::to_string(p % 7);
  e.type = "T";
  e.data = "{}";
  e.id = id;
  return e;
}

}  // namespace

TEST_CASE("the tail finds every id it holds and none it trimmed", "[tail]") {
  for (const bool sequential : {true, false}) {
    DYNAMIC_SECTION((sequential ? "sequential ids" : "random ids")) {
      std::mt19937_64 rng(42);
      Tail tail;
      std::map<Position, Uuid> held;
      Position next = 1;
      std::uint64_t seq = 0;
      std::vector<Uuid> gone;
      for (int round = 0; round < 200; ++round) {
        std::vector<RecordedEvent> batch;
        const auto n = 1 + rng() % 700;
        for (std::uint64_t k = 0; k < n; ++k, ++next) {
          const Uuid id = sequential ? sequential_id(next) : random_id(rng);
          batch.push_back(event(next, id));
          held[next] = id;
        }
        tail.append(batch, {}, ++seq);
        if (rng() % 3 != 0) {  // trim part of what is held
          const Position upto = held.begin()->first + rng() % (held.size() + 1);
          tail.trim(upto, seq);
          while (!held.empty() && held.begin()->first <= upto) {
            gone.push_back(held.begin()->second);
            held.erase(held.begin());
          }
        }
        auto lock = tail.read_lock();
        for (const auto& [p, id] : held) REQUIRE(tail.id(id) == std::optional<Position>(p));
        for (std::size_t k = gone.size() > 500 ? gone.size() - 500 : 0; k < gone.size(); ++k)
          REQUIRE_FALSE(tail.id(gone[k]).has_value());
      }
      tail.trim(next, seq);
      auto lock = tail.read_lock();
      CHECK(tail.empty());
      CHECK_FALSE(tail.id(sequential_id(1)).has_value());
    }
  }
}

TEST_CASE("the id filter never forgets an id it took, and seldom claims one it did not",
          "[tail][id-filter]") {
  std::mt19937_64 rng(7);
  es::store::IdFilter filter(100'000);
  std::vector<std::uint64_t> taken(100'000);
  for (auto& h : taken) {
    h = rng();
    filter.add(h);
  }
  for (std::uint64_t h : taken) REQUIRE(filter.may_contain(h));
  int false_positives = 0;
  for (int k = 0; k < 100'000; ++k) false_positives += filter.may_contain(rng()) ? 1 : 0;
  CHECK(false_positives < 1000);  // under 1% when full (about 0.1% expected)
  CHECK(filter.added() == 100'000);
}

// store/backup.h: a backup's copy, its checks and its restore, on real
// stores in temp dirs.
#include "store/backup.h"

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "es/digest.h"
#include "es/projection_store.h"
#include "es/store.h"
#include "es/uuid.h"

#include "temp_dir.h"

#include <sys/stat.h>

namespace {

using es::Code;
using es::test::TempDir;

std::unique_ptr<es::Store> open_store(const std::string& dir) {
  es::StoreOptions options;
  options.journal_size = 1u << 20;
  auto s = es::Store::open(dir, options);
  INFO(s.status().to_string());
  REQUIRE(s.ok());
  return std::move(s).value();
}

std::unique_ptr<es::ProjectionStore> open_projections(const std::string& dir) {
  auto p = es::ProjectionStore::open(dir);
  INFO(p.status().to_string());
  REQUIRE(p.ok());
  return std::move(p).value();
}

void append(es::Store& store, int n) {
  for (int i = 0; i < n; ++i) {
    es::AppendRequest r;
    r.events.push_back(es::ProposedEvent{"s-" + std::to_string(i % 3), es::Uuid::v7(), "T",
                                         "{\"n\":" + std::to_string(i) + "}", ""});
    REQUIRE(store.append(r).ok());
  }
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("a backup holds the log and the projections, checked", "[backup]") {
  TempDir tmp;
  auto store = open_store(tmp.sub("data"));
  auto projections = open_projections(tmp.sub("data/projections"));
  append(*store, 40);  // in the journal, not all of it in LMDB yet
  REQUIRE(projections->commit("p", 1, {{"k", "1"}}, 30).ok());
  const std::string dir = tmp.sub("backups/one");

  auto r = es::store::backup(*store, *projections, dir);
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  CHECK(r->acknowledged == 40);
  CHECK(r->copy.head == 40);
  CHECK(r->copy.chain == *store->chain_at(40));
  CHECK(r->copy.checkpoints == 1);
  CHECK(r->copy.max_checkpoint == 30);
  CHECK(mode_of(dir) == 0700);
  CHECK(mode_of(dir + "/data.mdb") == 0600);
  CHECK(mode_of(dir + "/projections") == 0700);
  CHECK(mode_of(dir + "/projections/data.mdb") == 0600);
  CHECK_FALSE(std::filesystem::exists(dir + "/journal"));
  CHECK_FALSE(std::filesystem::exists(dir + "/lock.mdb"));

  SECTION("check_copy writes nothing and finds the same") {
    auto c = es::store::check_copy(dir);
    REQUIRE(c.ok());
    CHECK(c->head == 40);
    CHECK(c->chain == r->copy.chain);
    CHECK_FALSE(std::filesystem::exists(dir + "/lock.mdb"));
  }
  SECTION("a store opens on the copy with the same head and digest") {
    auto copy = open_store(dir);
    CHECK(copy->head() == 40);
    auto v = copy->verify();
    REQUIRE(v.ok());
    CHECK(v->chain == r->copy.chain);
  }
  SECTION("a directory that is not empty, or a relative path, is refused") {
    auto again = es::store::backup(*store, *projections, dir);
    REQUIRE_FALSE(again.ok());
    CHECK(again.status().code() == Code::kInvalidArgument);
    CHECK_THAT(again.status().message(), Catch::Contains(dir + " exists and is not empty"));
    auto inside = es::store::backup(*store, *projections, tmp.sub("data/backup"));
    REQUIRE_FALSE(inside.ok());
    CHECK_THAT(inside.status().message(), Catch::Contains("inside the node's data directory"));
    CHECK_FALSE(std::filesystem::exists(tmp.sub("data/backup")));
    auto relative = es::store::backup(*store, *projections, "relative/dir");
    REQUIRE_FALSE(relative.ok());
    CHECK_THAT(relative.status().message(), Catch::Contains("absolute path"));
  }
  SECTION("restore: into a fresh directory; not into one in use or not empty") {
    const std::string data = tmp.sub("restored");
    auto restored = es::store::restore_backup(dir, data);
    REQUIRE(restored.ok());
    CHECK(restored->head == 40);
    CHECK(mode_of(data) == 0700);
    CHECK(mode_of(data + "/data.mdb") == 0600);
    CHECK(mode_of(data + "/projections/data.mdb") == 0600);
    auto not_empty = es::store::restore_backup(dir, data);
    REQUIRE_FALSE(not_empty.ok());
    CHECK(not_empty.status().code() == Code::kInvalidArgument);
    auto in_use = es::store::restore_backup(dir, tmp.sub("data"));  // `store` holds it
    REQUIRE_FALSE(in_use.ok());
    CHECK(in_use.status().code() == Code::kBusy);
  }
}

TEST_CASE("check_copy refuses a projection checkpoint past the head", "[backup]") {
  TempDir tmp;
  {
    auto store = open_store(tmp.path());
    append(*store, 5);
    REQUIRE(store->wait_applied().ok());
    auto projections = open_projections(tmp.sub("projections"));
    REQUIRE(projections->commit("ahead", 1, {}, 9).ok());
  }
  auto c = es::store::check_copy(tmp.path());
  REQUIRE_FALSE(c.ok());
  CHECK(c.status().code() == Code::kCorruption);
  CHECK_THAT(c.status().message(), Catch::Contains("projection 'ahead' has its checkpoint at 9"));
}

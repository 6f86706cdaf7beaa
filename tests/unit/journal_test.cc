// Unit tests of the journal (store/journal.h) and of recovery through it:
// frames written and replayed, torn or corrupted at every offset of the
// last frame, stale frames from earlier laps, damage followed by valid
// frames, and a Store whose process dies before LMDB is up to date.
#include "store/journal.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <lmdb.h>

#include "es/store.h"
#include "es/uuid.h"

#include "store/crc32c.h"
#include "temp_dir.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace es;
using es::store::Journal;
using es::store::JournalAt;
using es::test::TempDir;

namespace {

std::string payload_of(int i, std::size_t bytes) {
  std::string s = "event " + std::to_string(i) + ":";
  s.resize(bytes, static_cast<char>('a' + i % 26));
  return s;
}

struct Written {
  JournalAt at;
  std::uint64_t bytes;
  Position first;
  std::uint32_t count;
};

// Writes `frames` frames of `count` entries, `bytes` bytes each; returns
// where each went.
std::vector<Written> write_frames(Journal& j, int frames, std::uint32_t count, std::size_t bytes,
                                  Position first = 1, int id = 0) {
  std::vector<Written> out;
  std::string f;
  for (int i = 0; i < frames; ++i) {
    Journal::begin(&f);
    for (std::uint32_t k = 0; k < count; ++k) Journal::add_event(&f, payload_of(id + i, bytes));
    const JournalAt before = j.write_point();
    auto next = j.write(&f, first, count, static_cast<std::uint64_t>(id + i + 1));
    REQUIRE(next.ok());
    const std::uint64_t n = Journal::frame_bytes(Journal::payload_bytes(f));
    JournalAt at = next->offset - n == Journal::kRingStart && before.offset != Journal::kRingStart
                       ? JournalAt{next->lap, Journal::kRingStart}
                       : JournalAt{next->lap, next->offset - n};
    out.push_back(Written{at, n, first, count});
    first += count;
    j.release(static_cast<std::uint64_t>(id + i + 1));  // as if applied at once
  }
  return out;
}

struct Replayed {
  Status status;
  std::vector<Position> firsts;
  JournalAt end;
};

Replayed replay(const Journal& j, JournalAt from, Position first) {
  Replayed r;
  auto end = j.replay(from, first, [&](const Journal::Frame& f) {
    r.firsts.push_back(f.first);
    return Status();
  });
  r.status = end.ok() ? Status() : end.status();
  if (end.ok()) r.end = *end;
  return r;
}

void patch(const std::string& path, std::uint64_t offset, const std::string& bytes) {
  int fd = ::open(path.c_str(), O_WRONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) ==
          static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

std::string read_at(const std::string& path, std::uint64_t offset, std::size_t n) {
  std::string s(n, '\0');
  int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  REQUIRE(::pread(fd, s.data(), n, static_cast<off_t>(offset)) == static_cast<ssize_t>(n));
  ::close(fd);
  return s;
}

}  // namespace

TEST_CASE("crc32c matches the Castagnoli check value", "[journal]") {
  CHECK(store::crc32c("123456789", 9) == 0xe3069283u);
  CHECK(store::crc32c("", 0) == 0u);
  // Continuing a CRC over two halves gives the CRC of the whole.
  const std::string s(1000, 'x');
  CHECK(store::crc32c(s.data() + 500, 500, store::crc32c(s.data(), 500)) ==
        store::crc32c(s.data(), 1000));
}

TEST_CASE("journal frames are replayed in order, and replay ends where writing stopped",
          "[journal]") {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  auto j = Journal::open(path, 1u << 20);
  REQUIRE(j.ok());
  CHECK((*j)->size() == (1u << 20));
  (*j)->start(7);
  auto frames = write_frames(**j, 20, 3, 100);
  auto r = replay(**j, JournalAt{7, Journal::kRingStart}, 1);
  REQUIRE(r.status.ok());
  REQUIRE(r.firsts.size() == 20);
  for (std::size_t i = 0; i < 20; ++i) CHECK(r.firsts[i] == 1 + 3 * i);
  CHECK(r.end == (*j)->write_point());
  // From the middle, at the right position.
  auto mid = replay(**j, frames[10].at, frames[10].first);
  CHECK(mid.firsts.size() == 10);
  // A position that is not the frame's: nothing.
  CHECK(replay(**j, frames[10].at, frames[10].first + 1).firsts.empty());
  // Another lap: nothing.
  CHECK(replay(**j, JournalAt{6, Journal::kRingStart}, 1).firsts.empty());
}

TEST_CASE("a journal reopens with its size; a file that is not one is refused", "[journal]") {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  REQUIRE(Journal::open(path, 512u << 10).ok());
  auto again = Journal::open(path, 0);
  REQUIRE(again.ok());
  CHECK((*again)->size() == (512u << 10));
  patch(path, 0, "XXXX");
  auto bad = Journal::open(path, 0);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == Code::kCorruption);
  CHECK_THAT(bad.status().message(), Catch::Matchers::Contains("no valid header"));
  CHECK(Journal::open(dir.path() + "/small", 4096).status().code() == Code::kInvalidArgument);
}

TEST_CASE("a last frame torn or damaged at any offset ends the replay before it", "[journal]") {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  auto j = Journal::open(path, 1u << 20);
  REQUIRE(j.ok());
  (*j)->start(3);
  auto frames = write_frames(**j, 5, 4, 2500);  // frames of 3 blocks
  const Written last = frames.back();
  const std::string pristine = read_at(path, last.at.offset, last.bytes);
  const std::uint64_t used = Journal::kHeaderBytes + 4 * (5 + 2500) + Journal::kTrailerBytes;
  int torn = 0, flipped = 0;
  for (std::uint64_t k = 0; k < used; ++k) {
    // Torn: the write stopped at a 512-byte boundary; the rest is what was
    // there before (zeros here).
    if (k % 512 == 0) {
      patch(path, last.at.offset + k, std::string(last.bytes - k, '\0'));
      auto r = replay(**j, frames.front().at, 1);
      REQUIRE(r.status.ok());
      CHECK(r.firsts.size() == 4);
      CHECK(r.end == last.at);
      patch(path, last.at.offset, pristine);
      ++torn;
    }
    // One byte changed anywhere in the frame's header, payload or trailer.
    if (k < 64 || k % 97 == 0 || k + 64 > used) {
      std::string b(1, static_cast<char>(pristine[k] ^ 0x5a));
      patch(path, last.at.offset + k, b);
      auto r = replay(**j, frames.front().at, 1);
      INFO("offset " << k);
      REQUIRE(r.status.ok());
      CHECK(r.firsts.size() == 4);
      patch(path, last.at.offset + k, pristine.substr(k, 1));
      ++flipped;
    }
  }
  CHECK(torn >= 20);
  CHECK(flipped >= 100);
  CHECK(replay(**j, frames.front().at, 1).firsts.size() == 5);
}

TEST_CASE("a damaged frame with valid frames after it is corruption, not a torn write",
          "[journal]") {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  auto j = Journal::open(path, 1u << 20);
  REQUIRE(j.ok());
  (*j)->start(1);
  auto frames = write_frames(**j, 6, 2, 300);
  // A byte of the third frame's payload: its header still says where the
  // next frame is, and that one checks.
  patch(path, frames[2].at.offset + Journal::kHeaderBytes + 10, "#");
  auto r = replay(**j, frames.front().at, 1);
  REQUIRE_FALSE(r.status.ok());
  CHECK(r.status.code() == Code::kCorruption);
  CHECK_THAT(r.status.message(), Catch::Matchers::Contains("refusing to start"));
  // Its header damaged too: found by looking past it.
  patch(path, frames[2].at.offset, "####");
  r = replay(**j, frames.front().at, 1);
  CHECK(r.status.code() == Code::kCorruption);
}

TEST_CASE("after the ring wraps, stale frames of the earlier lap are not replayed", "[journal]") {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  auto j = Journal::open(path, Journal::kMinSize);
  REQUIRE(j.ok());
  (*j)->start(1);
  // 40 frames of 2 blocks in a ring of 63 blocks: it wraps once.
  auto frames = write_frames(**j, 40, 1, 5000);
  CHECK((*j)->write_point().lap == 2);
  std::size_t first_of_lap2 = 0;
  while (frames[first_of_lap2].at.lap == 1) ++first_of_lap2;
  REQUIRE(first_of_lap2 > 0);
  CHECK(frames[first_of_lap2].at.offset == Journal::kRingStart);
  // From a frame of lap 1 that is still there: through the wrap, to the end.
  const std::size_t from = first_of_lap2 - 3;
  auto r = replay(**j, frames[from].at, frames[from].first);
  REQUIRE(r.status.ok());
  CHECK(r.firsts.size() == frames.size() - from);
  CHECK(r.end == (*j)->write_point());
  // Past the write point lie frames of lap 1: they are not taken.
  CHECK(replay(**j, (*j)->write_point(), frames.back().first + 1).firsts.empty());
}

TEST_CASE("a frame never fits a ring that holds unapplied frames where it would go", "[journal]") {
  TempDir dir;
  auto j = Journal::open(dir.path() + "/journal", Journal::kMinSize);
  REQUIRE(j.ok());
  (*j)->start(1);
  std::string f;
  const std::size_t payload = 5000;  // 2 blocks
  int written = 0;
  while ((*j)->has_room(payload)) {
    Journal::begin(&f);
    Journal::add_event(&f, std::string(payload - 5, 'x'));
    REQUIRE((*j)->write(&f, written + 1, 1, written + 1).ok());
    ++written;
  }
  CHECK(written == 31);  // 63 blocks of ring, 2 per frame
  CHECK((*j)->unapplied_frames() == 31);
  (*j)->release(1);  // the first frame is in LMDB: its room at the start is free
  CHECK((*j)->has_room(payload));
  CHECK_FALSE((*j)->has_room((*j)->max_payload() + 1));
}

namespace {

// Opens a store in a child process, appends `groups` single events and one
// checkpoint move, and dies without closing anything (as kill -9 would),
// faster than the applier's batching delay: what it acknowledged is only in
// the journal. Returns the positions it acknowledged.
int crash_after_appends(const std::string& dir, int groups) {
  pid_t pid = ::fork();
  if (pid == 0) {
    StoreOptions o;
    o.journal_size = 1u << 20;
    auto s = Store::open(dir, o);
    if (!s.ok()) ::_exit(10);
    for (int i = 0; i < groups; ++i) {
      AppendRequest r;
      r.events.push_back(ProposedEvent{"s-" + std::to_string(i % 3), Uuid::v7(), "T",
                                       "{\"i\":" + std::to_string(i) + "}", ""});
      if (!(*s)->append(r).ok()) ::_exit(11);
    }
    std::vector<Result<AppendResult>> results;
    std::vector<RecordedEvent> committed;
    std::vector<Result<Position>> moved;
    const Checkpoint c{"mailer", static_cast<Position>(groups)};
    if (!(*s)->append_group({}, &results, &committed, std::span(&c, 1), &moved).ok()) ::_exit(12);
    ::_exit(0);  // no destructor: LMDB is not brought up to date
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("a store recovers what its journal holds after the process died", "[journal][store]") {
  TempDir dir;
  REQUIRE(crash_after_appends(dir.path(), 50) == 0);
  {
    StoreOptions o;
    o.journal_size = 1u << 20;
    auto s = Store::open(dir.path(), o);
    REQUIRE(s.ok());
    CHECK((*s)->head() == 50);
    ReadRequest rq;
    rq.limit = 100;
    auto all = (*s)->read(rq);
    REQUIRE(all.ok());
    REQUIRE(all->events.size() == 50);
    for (std::size_t i = 0; i < 50; ++i) CHECK(all->events[i].position == i + 1);
    auto v = (*s)->verify();
    REQUIRE(v.ok());
    CHECK(v->head == 50);
    auto c = (*s)->checkpoint("mailer");
    REQUIRE(c.ok());
    CHECK(c->value_or(0) == 50);
    CHECK((*s)->stream_count() == 3);
    // And it goes on from there, twice over.
    AppendRequest r;
    r.events.push_back(ProposedEvent{"s-0", Uuid::v7(), "T", "1", ""});
    auto a = (*s)->append(r);
    REQUIRE(a.ok());
    CHECK(a->streams.at(0).first_position == 51);
    CHECK(a->streams.at(0).first_version == 17);
  }
  REQUIRE(crash_after_appends(dir.path(), 10) == 0);
  auto s = Store::open(dir.path(), StoreOptions{});
  REQUIRE(s.ok());
  CHECK((*s)->head() == 61);
  CHECK((*s)->verify().ok());
}

TEST_CASE(
    "a torn last frame loses only that unacknowledged group; damage before valid "
    "frames refuses to open",
    "[journal][store]") {
  TempDir dir;
  REQUIRE(crash_after_appends(dir.path(), 20) == 0);
  // The frames of this run start at the ring's start (a new store begins a
  // new lap there): 20 events, a block each, then the checkpoint's frame.
  const std::string path = dir.path() + "/journal";
  const std::uint64_t event20 = Journal::kRingStart + 19 * Journal::kBlock;
  const std::uint64_t checkpoint = Journal::kRingStart + 20 * Journal::kBlock;
  const std::string pristine = read_at(path, event20, Journal::kBlock);
  patch(path, event20 + 100, std::string(400, '\0'));
  {
    auto s = Store::open(dir.path(), StoreOptions{});
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().code() == Code::kCorruption);
    CHECK_THAT(s.status().message(), Catch::Matchers::Contains("1 valid frame(s) follow it"));
  }
  patch(path, event20, pristine);
  patch(path, checkpoint + 24, "\x7f");  // the checkpoint frame's count: torn
  auto s = Store::open(dir.path(), StoreOptions{});
  REQUIRE(s.ok());
  CHECK((*s)->head() == 20);
  CHECK((*s)->verify().ok());
  CHECK((*s)->checkpoint("mailer")->has_value() == false);  // it was in the torn frame
}

TEST_CASE("a store written before the journal existed opens without loss", "[journal][store]") {
  TempDir dir;
  {
    StoreOptions o;
    o.journal_size = 1u << 20;
    auto s = Store::open(dir.path(), o);
    REQUIRE(s.ok());
    for (int i = 0; i < 10; ++i) {
      AppendRequest r;
      r.events.push_back(ProposedEvent{"old", Uuid::v7(), "T", std::to_string(i), ""});
      REQUIRE((*s)->append(r).ok());
    }
  }  // closing applies everything to LMDB
  // What an earlier esd left: no journal, and no "journal" entry in LMDB's meta.
  std::filesystem::remove(dir.path() + "/journal");
  {
    MDB_env* env = nullptr;
    REQUIRE(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, 8);
    REQUIRE(mdb_env_open(env, dir.path().c_str(), 0, 0600) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    MDB_dbi meta;
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    MDB_val key{7, const_cast<char*>("journal")};
    REQUIRE(mdb_del(txn, meta, &key, nullptr) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
  }
  auto s = Store::open(dir.path(), StoreOptions{});
  REQUIRE(s.ok());
  CHECK((*s)->head() == 10);
  CHECK(std::filesystem::exists(dir.path() + "/journal"));
  CHECK((*s)->verify().ok());
  AppendRequest r;
  r.events.push_back(ProposedEvent{"old", Uuid::v7(), "T", "10", ""});
  auto a = (*s)->append(r);
  REQUIRE(a.ok());
  CHECK(a->streams.at(0).first_position == 11);
}

TEST_CASE("a writer one pass behind the oldest unapplied frame never wraps over its own pass",
          "[journal]") {
  TempDir dir;
  auto j = Journal::open(dir.path() + "/journal", Journal::kMinSize);  // a ring of 63 blocks
  REQUIRE(j.ok());
  (*j)->start(1);
  std::string f;
  std::uint64_t seq = 0;
  auto write_blocks = [&](std::size_t blocks) {
    const std::size_t payload =
        blocks * Journal::kBlock - Journal::kHeaderBytes - Journal::kTrailerBytes - 5;
    REQUIRE((*j)->has_room(payload));
    Journal::begin(&f);
    Journal::add_event(&f, std::string(payload - 5, 'x'));
    REQUIRE((*j)->write(&f, seq + 1, 1, seq + 1).ok());
    ++seq;
  };
  const auto payload_of = [](std::size_t blocks) {
    return blocks * Journal::kBlock - Journal::kHeaderBytes - Journal::kTrailerBytes - 5;
  };
  for (int i = 0; i < 12; ++i) write_blocks(4);  // blocks 1..48 of pass 1
  (*j)->release(10);                             // frames 11 and 12 (blocks 41..48) unapplied
  for (int i = 0; i < 9; ++i) write_blocks(4);   // blocks 49..60, then pass 2: blocks 1..24
  REQUIRE((*j)->write_point().lap == 2);
  CHECK((*j)->write_point().offset == Journal::kRingStart + 24 * Journal::kBlock);
  // Up to the oldest unapplied frame (block 41) there are 16 blocks.
  CHECK((*j)->has_room(payload_of(16)));
  CHECK_FALSE((*j)->has_room(payload_of(17)));
  // 40 blocks do not fit before the end of the file; at the ring's start
  // they would end right at the oldest, but go over pass 2's own unapplied
  // frames (blocks 1..24) on the way.
  CHECK_FALSE((*j)->has_room(payload_of(40)));
  (*j)->release(15);  // pass 1 applied: pass 2's frames are the oldest now
  CHECK((*j)->has_room(payload_of(30)));
  CHECK_FALSE((*j)->has_room(payload_of(40)));
}

// powerloss_check: rebuilds the journal and data.mdb as a power loss at
// each moment of a recorded run (tests/tools/powerloss_shim.c) could have
// left them, opens each such store (recovery included) and checks it holds
// every acknowledged event.
//
//   powerloss_check --base DIR --log FILE --final DIR --work DIR
//                   [--random 50] [--seed N] [--min-states 1000] [--max-points 400]
//
// --base: a copy of the data directory before the recorded run; --final:
// the directory after it (esd stopped cleanly), the reference.
//
// Crash points: before every flush and every synchronous (O_DSYNC) write in
// the log, and the end. At a crash point, each file holds its base bytes,
// every write flushed before the point, and some of the writes not yet
// flushed: none, all, all but one (each in turn), --random random subsets,
// and all with the last one torn at 512-byte boundaries; a synchronous
// write in progress at the point is left out or torn likewise. A frame of
// the journal counts as acknowledged when its write was durable before the
// point: esd replies only after that. Each state must open, hold every
// acknowledged position with the reference's chain digest (so the very same
// events), verify, and hold nothing the reference does not.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "es/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {

enum Kind : std::uint8_t { kWrite = 1, kFlush = 2, kDurableWrite = 3 };
const char* const kFiles[] = {"journal", "data.mdb"};

struct Op {
  Kind kind;
  int file;
  std::uint64_t offset;
  std::string data;
};

std::vector<Op> read_log(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<Op> ops;
  char h[24];
  while (in.read(h, sizeof h)) {
    if (std::memcmp(h, "PLW1", 4) != 0) throw std::runtime_error("bad log record");
    Op op;
    op.kind = static_cast<Kind>(h[4]);
    op.file = h[5];
    std::uint64_t len = 0;
    std::memcpy(&op.offset, h + 8, 8);
    std::memcpy(&len, h + 16, 8);
    op.data.resize(len);
    if (len > 0 && !in.read(op.data.data(), static_cast<std::streamsize>(len)))
      throw std::runtime_error("truncated log");
    ops.push_back(std::move(op));
  }
  return ops;
}

// The last position a journal frame write holds (0 when it is not a frame).
es::Position frame_last(const Op& op) {
  if (op.file != 0 || op.data.size() < 40 || std::memcmp(op.data.data(), "ESJF", 4) != 0) return 0;
  std::uint64_t first = 0;
  std::uint32_t count = 0;
  std::memcpy(&first, op.data.data() + 16, 8);
  std::memcpy(&count, op.data.data() + 24, 4);
  return first + count - 1;
}

void put(const std::string& path, std::uint64_t off, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0 || ::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(off)) !=
                    static_cast<ssize_t>(bytes.size()))
    throw std::runtime_error("cannot write " + path);
  ::close(fd);
}

struct Reference {
  std::vector<es::Chain> chain;  // by position
  es::Position head = 0;
};

Reference load_reference(const std::string& dir) {
  auto s = es::Store::open(dir, es::StoreOptions{});
  if (!s.ok()) throw std::runtime_error("final store: " + s.status().to_string());
  Reference r;
  r.head = (*s)->head();
  r.chain.resize(r.head + 1);
  es::ReadRequest rq;
  rq.from = 1;
  rq.limit = 10000;
  for (;;) {
    auto page = (*s)->read(rq);
    if (!page.ok()) throw std::runtime_error("final store read: " + page.status().to_string());
    for (const auto& e : page->events) r.chain.at(e.position) = e.chain;
    if (page->end) break;
    rq.from = page->next;
  }
  return r;
}

struct State {
  std::vector<std::size_t> writes;  // op indexes, in log order
  std::size_t torn = SIZE_MAX;      // an op index written only up to torn_bytes
  std::size_t torn_bytes = 0;
  std::string what;
};

// Builds `st` in `dir` from `base` and checks it; an empty string when it holds.
std::string check_state(const std::string& base, const std::string& dir, const std::vector<Op>& ops,
                        const State& st, es::Position required, const Reference& ref) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : kFiles) fs::copy_file(base + "/" + f, dir + "/" + f);
  for (std::size_t i : st.writes) {
    const Op& op = ops[i];
    std::string_view bytes = op.data;
    if (i == st.torn) bytes = bytes.substr(0, st.torn_bytes);
    put(dir + "/" + kFiles[op.file], op.offset, bytes);
  }
  auto s = es::Store::open(dir, es::StoreOptions{});
  if (!s.ok()) return "does not open: " + s.status().to_string();
  const es::Position head = (*s)->head();
  if (head < required)
    return "head " + std::to_string(head) + " lacks acknowledged position " +
           std::to_string(required);
  if (head > ref.head) return "head " + std::to_string(head) + " is past the reference's";
  for (es::Position p : {required, head}) {
    if (p == 0) continue;
    auto c = (*s)->chain_at(p);
    if (!c.ok() || *c != ref.chain.at(p))
      return "position " + std::to_string(p) + " differs from the reference";
  }
  auto v = (*s)->verify();
  if (!v.ok()) return "verify: " + v.status().to_string();
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  ::umask(077);  // the states' directories are private, as esd wants them (no warning each)
  std::string base, log, final_dir, work;
  int randoms = 50, min_states = 1000;
  std::size_t max_points = 400;
  unsigned seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--base")
      base = v;
    else if (k == "--log")
      log = v;
    else if (k == "--final")
      final_dir = v;
    else if (k == "--work")
      work = v;
    else if (k == "--random")
      randoms = std::stoi(v);
    else if (k == "--seed")
      seed = static_cast<unsigned>(std::stoul(v));
    else if (k == "--min-states")
      min_states = std::stoi(v);
    else if (k == "--max-points")
      max_points = std::stoul(v);
  }
  if (base.empty() || log.empty() || final_dir.empty() || work.empty()) {
    std::fprintf(stderr, "usage: powerloss_check --base DIR --log FILE --final DIR --work DIR\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);  // recovery's notes, once per state
  try {
    const std::vector<Op> ops = read_log(log);
    const Reference ref = load_reference(final_dir);
    std::mt19937 rng(seed);
    // Crash points: before each flush and each synchronous write, and the end.
    // Flushes of buffered writes (LMDB's commits) leave many writes pending
    // and so many states; synchronous writes (the journal's frames) few.
    // Up to half the points go to the first, evenly; the rest to the second.
    std::vector<std::size_t> flushes, synchronous;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].kind == kFlush) flushes.push_back(i);
      if (ops[i].kind == kDurableWrite) synchronous.push_back(i);
    }
    auto even = [](const std::vector<std::size_t>& all, std::size_t n) {
      if (all.size() <= n) return all;
      std::vector<std::size_t> sample;
      for (std::size_t k = 0; k < n; ++k)
        sample.push_back(all[n == 1 ? 0 : k * (all.size() - 1) / (n - 1)]);
      return sample;
    };
    std::vector<std::size_t> points = even(flushes, max_points / 2);
    const std::vector<std::size_t> more = even(synchronous, max_points - 1 - points.size());
    points.insert(points.end(), more.begin(), more.end());
    points.push_back(ops.size());
    std::sort(points.begin(), points.end());
    long states = 0, journal_writes = 0, lmdb_writes = 0;
    for (const Op& op : ops) (op.file == 0 ? journal_writes : lmdb_writes) += op.kind != kFlush;
    for (std::size_t point : points) {
      // What is durable before the point, and what is written but not flushed.
      std::vector<std::size_t> durable, pending;
      es::Position required = 0;
      std::vector<std::vector<std::size_t>> unflushed(2);
      for (std::size_t i = 0; i < point; ++i) {
        const Op& op = ops[i];
        if (op.kind == kWrite) {
          unflushed[op.file].push_back(i);
        } else if (op.kind == kFlush) {
          for (std::size_t w : unflushed[op.file]) {
            durable.push_back(w);
            required = std::max(required, frame_last(ops[w]));
          }
          unflushed[op.file].clear();
        } else {
          durable.push_back(i);
          required = std::max(required, frame_last(op));
        }
      }
      for (auto& u : unflushed) pending.insert(pending.end(), u.begin(), u.end());
      // A synchronous write in progress at the point: maybe written, maybe torn.
      if (point < ops.size() && ops[point].kind == kDurableWrite) pending.push_back(point);
      std::sort(durable.begin(), durable.end());
      std::sort(pending.begin(), pending.end());
      std::vector<State> variants;
      auto with = [&](std::vector<std::size_t> extra, std::string what) {
        State st;
        st.writes = durable;
        st.writes.insert(st.writes.end(), extra.begin(), extra.end());
        std::sort(st.writes.begin(), st.writes.end());
        st.what = std::move(what);
        variants.push_back(std::move(st));
        return &variants.back();
      };
      with({}, "none of the unflushed writes");
      if (!pending.empty()) {
        with(pending, "all of them");
        if (pending.size() > 1) {
          for (std::size_t k = 0; k < pending.size(); ++k) {
            std::vector<std::size_t> some = pending;
            some.erase(some.begin() + static_cast<std::ptrdiff_t>(k));
            with(some, "all but #" + std::to_string(k));
          }
        }
        const int subsets = pending.size() < 6 ? (1 << pending.size()) - 2 : randoms;
        for (int r = 0; r < std::min(randoms, std::max(subsets, 0)); ++r) {
          std::vector<std::size_t> some;
          for (std::size_t w : pending)
            if (rng() & 1) some.push_back(w);
          with(some, "a random subset");
        }
        // The last unflushed write torn at 512-byte boundaries (up to 8 cuts).
        const std::size_t last = pending.back();
        const std::size_t len = ops[last].data.size();
        for (std::size_t k = 1; k <= 8 && k * len / 9 >= 512; ++k) {
          State* st = with(pending, "the last torn");
          st->torn = last;
          st->torn_bytes = (k * len / 9) / 512 * 512;
        }
      }
      for (const State& st : variants) {
        ++states;
        std::string err = check_state(base, work + "/state", ops, st, required, ref);
        if (!err.empty()) {
          std::fprintf(stderr,
                       "FAIL: crash before op %zu of %zu (%zu durable, %zu unflushed writes; "
                       "%s): %s\n",
                       point, ops.size(), durable.size(), pending.size(), st.what.c_str(),
                       err.c_str());
          return 1;
        }
      }
    }
    fs::remove_all(work + "/state");
    std::printf(
        "%ld crash states from %zu crash points held every acknowledged event "
        "(%ld journal writes, %ld LMDB writes logged; reference head %llu)\n",
        states, points.size(), journal_writes, lmdb_writes,
        static_cast<unsigned long long>(ref.head));
    if (states < min_states) {
      std::fprintf(stderr, "FAIL: only %ld states, fewer than %d\n", states, min_states);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "powerloss_check: %s\n", e.what());
    return 1;
  }
}

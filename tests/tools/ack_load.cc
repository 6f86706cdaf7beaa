// ack_load: a load that logs every acknowledgement, and the check that
// finds each of them in the log afterwards: what the kill -9 campaign
// (tests/e2e/kill9_test.sh) runs while esd is killed and restarted.
//
//   ack_load load  --server EP --dir DIR [--clients 16] [--seconds 30] [--max 1000000]
//   ack_load check --server EP --dir DIR
//
// load: each client (a thread with its own es::Client) appends single events
// and, every tenth time, a batch of 10, with random (v4) ids, to 64 streams.
// An append that gets no answer (the node is down) is sent again, the same
// events with the same ids, until it is answered: a retry returns the
// original positions when the first try was committed, or writes the events
// once. Every acknowledged event is logged to DIR/acked.<client> as
// "id position" before the next append. Bounded by --seconds and --max, and
// ended early by SIGTERM (each client first gets its last append answered);
// an append still unanswered 20 s after the end is given up (exit 1).
//
// check: reads the whole log and requires positions 1..head without a gap,
// every stream's versions 0.. without a gap, every id once, and every
// logged acknowledgement at its position. Prints a summary; exit 1 with
// the first difference otherwise.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "es/client.h"
#include "es/event.h"
#include "es/uuid.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode, server, dir;
  int clients = 16;
  int seconds = 30;
  long max = 1'000'000;
};

es::Uuid random_id(std::mt19937_64& rng) {
  es::Uuid id;
  for (int i = 0; i < 16; i += 8) {
    std::uint64_t r = rng();
    std::memcpy(id.bytes.data() + i, &r, 8);
  }
  id.bytes[6] = static_cast<std::uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
  id.bytes[8] = static_cast<std::uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // variant
  return id;
}

std::atomic<bool> g_failed{false};
std::atomic<bool> g_stop{false};
extern "C" void on_term(int) { g_stop = true; }

void client(const Args& a, int k, std::atomic<long>& budget, Clock::time_point end) {
  std::mt19937_64 rng(std::random_device{}() ^ (static_cast<std::uint64_t>(k) << 32));
  es::Client c(a.server, es::ClientOptions{std::chrono::milliseconds(1000)});
  FILE* log = std::fopen((a.dir + "/acked." + std::to_string(k)).c_str(), "a");
  if (log == nullptr) {
    std::perror("acked file");
    g_failed = true;
    return;
  }
  for (long n = 0; Clock::now() < end && !g_stop; ++n) {
    const int events = n % 10 == 9 ? 10 : 1;
    if (budget.fetch_sub(events) < events) break;
    es::AppendRequest rq;
    const std::string stream = "k" + std::to_string((k * 7 + n) % 64);
    for (int i = 0; i < events; ++i) {
      rq.events.push_back(es::ProposedEvent{stream, random_id(rng), "T",
                                            "{\"c\":" + std::to_string(k) +
                                                ",\"n\":" + std::to_string(n) +
                                                ",\"i\":" + std::to_string(i) + "}",
                                            ""});
    }
    const auto give_up = std::min(end, Clock::now()) + std::chrono::seconds(20);
    for (;;) {
      auto r = c.append(rq);
      if (r.ok()) {
        const es::Position first = r->streams.at(0).first_position;
        for (int i = 0; i < events; ++i)
          std::fprintf(log, "%s %llu\n",
                       rq.events[static_cast<std::size_t>(i)].id.to_string().c_str(),
                       static_cast<unsigned long long>(first + static_cast<es::Position>(i)));
        std::fflush(log);
        break;
      }
      if (r.status().code() != es::Code::kUnavailable || Clock::now() > give_up) {
        std::fprintf(stderr, "ack_load: client %d: %s\n", k, r.status().to_string().c_str());
        g_failed = true;
        std::fclose(log);
        return;
      }
      c.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::fclose(log);
}

int load(const Args& a) {
  std::signal(SIGTERM, on_term);
  std::filesystem::create_directories(a.dir);
  std::atomic<long> budget{a.max};
  const auto end = Clock::now() + std::chrono::seconds(a.seconds);
  std::vector<std::thread> threads;
  for (int k = 0; k < a.clients; ++k) threads.emplace_back([&, k] { client(a, k, budget, end); });
  for (auto& t : threads) t.join();
  return g_failed ? 1 : 0;
}

int check(const Args& a) {
  es::Client c(a.server, es::ClientOptions{std::chrono::milliseconds(30000)});
  std::unordered_map<std::string, es::Position> at;  // id -> position
  std::unordered_map<std::string, es::Version> next_version;
  es::ReadRequest rq;
  rq.from = 1;
  rq.limit = 10000;
  es::Position expect = 1;
  for (;;) {
    auto page = c.read(rq);
    if (!page.ok()) {
      std::fprintf(stderr, "ack_load: read: %s\n", page.status().to_string().c_str());
      return 1;
    }
    for (const auto& e : page->events) {
      if (e.position != expect) {
        std::fprintf(stderr, "FAIL: position %llu where %llu was due\n",
                     static_cast<unsigned long long>(e.position),
                     static_cast<unsigned long long>(expect));
        return 1;
      }
      ++expect;
      es::Version& v = next_version[e.stream];
      if (e.version != v) {
        std::fprintf(stderr, "FAIL: %s version %llu where %llu was due\n", e.stream.c_str(),
                     static_cast<unsigned long long>(e.version),
                     static_cast<unsigned long long>(v));
        return 1;
      }
      ++v;
      if (!at.emplace(e.id.to_string(), e.position).second) {
        std::fprintf(stderr, "FAIL: id %s stored twice\n", e.id.to_string().c_str());
        return 1;
      }
    }
    if (page->end) break;
    rq.from = page->next;
  }
  long acked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(a.dir)) {
    if (entry.path().filename().string().rfind("acked.", 0) != 0) continue;
    std::ifstream in(entry.path());
    std::string id;
    unsigned long long pos = 0;
    while (in >> id >> pos) {
      ++acked;
      auto it = at.find(id);
      if (it == at.end() || it->second != pos) {
        std::fprintf(stderr, "FAIL: acknowledged event %s at position %llu is %s\n", id.c_str(),
                     pos,
                     it == at.end() ? "missing" : ("at " + std::to_string(it->second)).c_str());
        return 1;
      }
    }
  }
  std::printf("%ld acknowledged events found at their positions; head %llu, %zu streams\n", acked,
              static_cast<unsigned long long>(expect - 1), next_version.size());
  return acked > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (argc > 1) a.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--server")
      a.server = v;
    else if (k == "--dir")
      a.dir = v;
    else if (k == "--clients")
      a.clients = std::atoi(v.c_str());
    else if (k == "--seconds")
      a.seconds = std::atoi(v.c_str());
    else if (k == "--max")
      a.max = std::atol(v.c_str());
  }
  if (a.server.empty() || a.dir.empty() || (a.mode != "load" && a.mode != "check")) {
    std::fprintf(stderr,
                 "usage: ack_load load|check --server EP --dir DIR [--clients N] [--seconds S] "
                 "[--max N]\n");
    return 2;
  }
  return a.mode == "load" ? load(a) : check(a);
}

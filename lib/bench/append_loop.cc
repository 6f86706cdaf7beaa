#include "bench/append_loop.h"

#include <algorithm>
#include <atomic>
#include <latch>
#include <optional>
#include <thread>

#include "es/client.h"

namespace es::bench {
namespace {

struct ClientState {
  std::vector<std::int64_t> latency_ns;
  std::uint64_t events = 0, requests = 0, errors = 0;
  Status error = Status::ok_status();
  Status setup = Status::ok_status();
};

// The streams (indexes k) client `c` writes to with kRoundRobin.
std::vector<long> own_streams(const AppendLoopOptions& o, long c) {
  std::vector<long> ks;
  for (long k = c; k < o.streams; k += o.clients) ks.push_back(k);
  return ks;
}

// The last version of each of `names` (nullopt: the stream has none).
Status learn_versions(Client& client, const std::vector<std::string>& names,
                      std::vector<std::optional<Version>>& versions) {
  for (std::size_t i = 0; i < names.size(); i++) {
    ReadRequest rq;
    rq.stream = names[i];
    rq.backwards = true;
    rq.from_end = true;
    rq.limit = 1;
    auto page = client.read(rq);
    if (!page.ok() && page.status().code() != Code::kNotFound) return page.status();
    if (page.ok() && !page->events.empty()) versions[i] = page->events.front().version;
  }
  return Status::ok_status();
}

// One client's requests until its share `cap`, the deadline or an error;
// `names` are its own streams (kRoundRobin) and `versions` their last ones.
void run_client(const AppendLoopOptions& o, long c, std::uint64_t cap, Client& client,
                const std::vector<std::string>& names,
                std::vector<std::optional<Version>>& versions, ClientState& st,
                std::int64_t deadline, std::atomic<std::uint64_t>& acked) {
  Rng rng(o.seed + static_cast<std::uint64_t>(c) * 7919);
  st.latency_ns.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(cap, 1u << 20)));
  AppendRequest rq;
  for (std::uint64_t i = 0; st.events < cap; i++) {
    const std::uint64_t n =
        std::min<std::uint64_t>(static_cast<std::uint64_t>(o.batch), cap - st.events);
    std::size_t slot = 0;
    std::string stream;
    if (o.pick == StreamPick::kRandom) {
      const long k = static_cast<long>(rng.next() % static_cast<std::uint64_t>(o.streams));
      stream = o.prefix + std::to_string(o.first_stream + k);
    } else {
      slot = static_cast<std::size_t>(i % names.size());
      stream = names[slot];
    }
    rq.events.clear();
    for (std::uint64_t j = 0; j < n; j++)
      rq.events.push_back(make_event(
          rng, o.shape, static_cast<std::uint64_t>(c) * 100000000ULL + st.events + j, stream));
    rq.expectations.clear();
    if (o.expect) {
      const auto& v = versions[slot];
      rq.expectations.push_back(
          {stream, v ? ExpectedVersion::exact(*v) : ExpectedVersion::no_stream()});
    }
    const std::int64_t a = now_ns();
    auto r = client.append(rq);
    const std::int64_t z = now_ns();
    if (!r.ok()) {
      st.errors++;
      st.error = r.status();
      return;
    }
    if (o.expect && !r->streams.empty()) versions[slot] = r->streams.front().last_version;
    st.latency_ns.push_back(z - a);
    st.events += n;
    st.requests++;
    acked.fetch_add(n, std::memory_order_relaxed);
    if (z >= deadline) return;
  }
}

}  // namespace

Result<AppendLoopResult> run_append_loop(const AppendLoopOptions& o) {
  if (o.clients <= 0 || o.batch <= 0 || o.streams <= 0 ||
      (o.pick == StreamPick::kRoundRobin && o.streams < o.clients))
    return Status::invalid(
        "append loop: clients, batch and streams must be > 0, "
        "and streams >= clients");
  const auto C = static_cast<std::size_t>(o.clients);
  std::vector<ClientState> state(C);
  std::latch ready(o.clients + 1), go(1);
  std::atomic<std::int64_t> t_end{0}, t_start{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<long> running{o.clients};
  std::vector<std::thread> threads;
  for (long c = 0; c < o.clients; c++) {
    threads.emplace_back([&, c] {
      ClientState& st = state[static_cast<std::size_t>(c)];
      Client client(o.endpoint, ClientOptions{o.timeout, o.curve});
      std::vector<std::string> names;
      for (long k : own_streams(o, c))
        names.push_back(o.prefix + std::to_string(o.first_stream + k));
      std::vector<std::optional<Version>> versions(names.size());
      if (o.expect) st.setup = learn_versions(client, names, versions);
      ready.count_down();
      go.wait();
      // Each client's share of max_events; the first ones take the remainder.
      const std::uint64_t cap =
          o.max_events / C + (static_cast<std::uint64_t>(c) < o.max_events % C ? 1 : 0);
      if (st.setup.ok()) {
        run_client(o, c, cap, client, names, versions, st, t_start.load() + o.duration.count(),
                   acked);
      }
      std::int64_t z = now_ns(), prev = t_end.load();
      while (z > prev && !t_end.compare_exchange_weak(prev, z)) {
      }
      running--;
    });
  }
  ready.arrive_and_wait();
  const std::int64_t t0 = now_ns();
  t_start = t0;
  go.count_down();
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (o.on_progress) o.on_progress(acked.load(std::memory_order_relaxed));
  }
  for (auto& t : threads) t.join();
  AppendLoopResult r;
  for (auto& st : state) {
    if (!st.setup.ok()) return st.setup;
    r.events += st.events;
    r.requests += st.requests;
    r.errors += st.errors;
    if (r.first_error.ok()) r.first_error = st.error;
    r.latency_ns.insert(r.latency_ns.end(), st.latency_ns.begin(), st.latency_ns.end());
  }
  r.secs = static_cast<double>(t_end.load() - t0) / 1e9;
  return r;
}

}  // namespace es::bench

#include "bench/delivery.h"

#include <algorithm>
#include <latch>
#include <thread>

#include "es/subscription.h"

namespace es::bench {

Result<std::unique_ptr<DeliveryRun>> DeliveryRun::make(DeliveryOptions options) {
  if (options.events <= 0 || options.writers <= 0 || options.rate <= 0 || options.streams <= 0)
    return Status::invalid(options.name + ": nothing to do");
  std::unique_ptr<DeliveryRun> run(new DeliveryRun(std::move(options)));
  const auto n = static_cast<std::size_t>(run->o_.events);
  run->ids.resize(n);
  run->seq_of_.reserve(n * 2);
  Rng rng(run->o_.seed);
  for (std::size_t i = 0; i < n; i++) {
    run->ids[i] = make_id(rng, run->o_.shape.ids);
    if (!run->seq_of_.emplace(run->ids[i], static_cast<long>(i)).second)
      return Status::invalid(run->o_.name + ": duplicate id made");
  }
  run->t_send.assign(n, 0);
  run->t_ack.assign(n, 0);
  run->t_recv.assign(n, 0);
  return run;
}

void DeliveryRun::receipt(const Uuid& id, std::string_view stream, std::string_view data,
                          std::int64_t t) {
  auto it = seq_of_.find(id);
  if (it == seq_of_.end()) {
    if (stream == o_.warm_stream) {
      // The time first: warm_up reads it once it sees the number.
      marker_recv_ns = t;
      marker_seen = static_cast<std::int64_t>(data_seq(data));
    } else {
      foreign++;
    }
    return;
  }
  const auto seq = static_cast<std::size_t>(it->second);
  if (data_seq(data) != seq) body_mismatch++;
  if (t_recv[seq] != 0) {
    dups++;
    return;
  }
  t_recv[seq] = t;
  received++;
}

namespace {

// The receiver must be live before the measurement, or the first events
// would arrive only with the next heartbeat's repair (or after a receiving
// process starts and connects).
Status warm_up(Client& c, DeliveryRun& run) {
  const DeliveryOptions& o = run.options();
  Rng rng(o.seed + 1);
  const std::int64_t until = now_ns() + 10'000'000'000LL;
  for (std::uint64_t k = 0; now_ns() < until && !run.receiver_failed.load(); k++) {
    AppendRequest rq;
    rq.events.push_back(make_event(rng, o.shape, k, o.warm_stream));
    auto r = c.append(rq);
    if (!r.ok())
      return Status(r.status().code(), o.name + " warm-up append: " + r.status().message());
    const std::int64_t ack = now_ns();
    while (now_ns() < ack + 200'000'000LL) {
      if (run.marker_seen.load() == static_cast<std::int64_t>(k)) {
        if (run.marker_recv_ns.load() - ack < 50'000'000LL) return Status::ok_status();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return Status::unavailable(o.name + (run.receiver_failed.load()
                                           ? ": the receiver failed during the warm-up"
                                           : ": the receiver did not go live within 10 s"));
}

Status open_loop_writers(DeliveryRun& run) {
  const DeliveryOptions& o = run.options();
  const long W = o.writers, N = o.events;
  std::vector<std::string> err(static_cast<std::size_t>(W));
  std::latch ready(W + 1), go(1);
  std::atomic<long> running{W};
  std::vector<std::thread> th;
  for (long w = 0; w < W; w++) {
    th.emplace_back([&, w] {
      Client b(o.endpoint, ClientOptions{o.timeout, o.curve});
      ready.count_down();
      go.wait();
      Rng rng(static_cast<std::uint64_t>(w) + 77);
      const std::int64_t start = run.t0;  // set before go
      const double gap_ns = 1e9 / static_cast<double>(o.rate);
      const std::int64_t hard_stop =
          start + (N / o.rate * 3 + 5) * 1000000000LL;  // 3 times the schedule, and 5 s
      AppendRequest rq;
      rq.events.resize(1);
      for (long seq = w; seq < N; seq += W) {
        const std::int64_t target =
            start + static_cast<std::int64_t>(static_cast<double>(seq) * gap_ns);
        const std::int64_t now = now_ns();
        if (now < target) std::this_thread::sleep_for(std::chrono::nanoseconds(target - now));
        if (now_ns() > hard_stop) break;
        ProposedEvent& e = rq.events[0];
        e = make_event(rng, o.shape, static_cast<std::uint64_t>(seq),
                       o.prefix + std::to_string(o.first_stream + seq % o.streams));
        e.id = run.ids[static_cast<std::size_t>(seq)];
        run.t_send[static_cast<std::size_t>(seq)] = now_ns();
        auto r = b.append(rq);
        const std::int64_t z = now_ns();
        if (!r.ok()) {
          err[static_cast<std::size_t>(w)] = "append: " + r.status().to_string();
          break;
        }
        run.t_ack[static_cast<std::size_t>(seq)] = z;
        run.sent++;
      }
      running--;
    });
  }
  ready.arrive_and_wait();
  run.t0 = now_ns() + 2000000;  // first event 2 ms from now
  go.count_down();
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (o.on_progress) o.on_progress(static_cast<std::uint64_t>(run.sent.load()));
  }
  for (auto& t : th) t.join();
  for (auto& e : err)
    if (!e.empty()) return Status::unavailable(o.name + " writer: " + e);
  return Status::ok_status();
}

}  // namespace

Status measure(Client& c, DeliveryRun& run, const std::function<std::string()>& stop_receiver) {
  Status s = warm_up(c, run);
  if (s.ok()) s = open_loop_writers(run);
  if (s.ok()) {
    const std::int64_t drain_until = now_ns() + run.options().drain.count() * 1000000LL;
    while (run.received.load() < run.sent.load() && now_ns() < drain_until &&
           !run.receiver_failed.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const std::string receiver_err = stop_receiver();
  if (!s.ok()) {
    return receiver_err.empty()
               ? s
               : Status(s.code(), s.message() + " (receiver: " + receiver_err + ")");
  }
  if (!receiver_err.empty())
    return Status::unavailable(run.options().name + " receiver: " + receiver_err);
  return Status::ok_status();
}

Status subscribe_and_measure(Client& c, DeliveryRun& run, const std::string& endpoint) {
  auto hello = c.hello();
  if (!hello.ok()) return hello.status();
  const Position from = hello->head + 1;
  std::atomic<bool> stop{false};
  std::string sub_err;
  std::thread subt([&] {
    try {
      Client sc(endpoint, ClientOptions{run.options().timeout, run.options().curve});
      SubscriptionOptions so;
      so.from = from;
      so.filter.category = run.options().category;
      Subscription sub(sc, so);
      Status st = sub.run(
          [&](const RecordedEvent& e) {
            run.receipt(e.id, e.stream, e.data, now_ns());
            return Delivery::kContinue;
          },
          stop);
      if (!st.ok()) sub_err = st.to_string();
    } catch (const std::exception& ex) {
      sub_err = ex.what();
    }
    if (!sub_err.empty()) run.receiver_failed = true;
  });
  return measure(c, run, [&] {
    stop = true;
    subt.join();
    return sub_err;  // joined: safe to read
  });
}

DeliveryResult results(const DeliveryRun& run) {
  DeliveryResult r;
  std::int64_t last_ack = 0;
  for (std::size_t u = 0; u < run.t_ack.size(); u++) {
    last_ack = std::max(last_ack, run.t_ack[u]);
    if (run.t_ack[u] == 0 || run.t_recv[u] == 0) continue;
    r.from_ack_ns.push_back(run.t_recv[u] - run.t_ack[u]);
    r.from_send_ns.push_back(run.t_recv[u] - run.t_send[u]);
    if (run.t_recv[u] < run.t_ack[u]) r.received_before_ack++;
  }
  r.sent = run.sent.load();
  r.received = run.received.load();
  r.dups = run.dups.load();
  r.foreign = run.foreign.load();
  r.body_mismatch = run.body_mismatch.load();
  r.malformed = run.malformed.load();
  r.sent_per_s = last_ack > run.t0
                     ? static_cast<double>(r.sent) / (static_cast<double>(last_ack - run.t0) / 1e9)
                     : 0.0;
  return r;
}

}  // namespace es::bench

// bench/delivery.h
//
// Append-to-receiver latency at a steady rate (esbench's W7, W8 and W9, and
// `es bench latency`): `writers` threads, one es::Client each, append single
// events on an open-loop schedule (event i is due at t0 + i / rate, whatever
// the answers do) while a receiver (an es::Subscription here, or another
// one the caller runs) reports each event it gets with run.receipt(). Every
// id is made before the run, so the receiver matches events by id; send,
// answer and receipt times come from one steady clock in one process.
//
// Before the writers start, a warm-up appends markers to `warm_stream`
// until one arrives within 50 ms of its answer (at most 10 s): the receiver
// is then live, not catching up.
//
// Thread safety: the writers write t_send and t_ack, the receiver t_recv
// and the counters; read them (results()) only after measure() returned.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "es/client.h"
#include "es/status.h"

#include "bench/events.h"

namespace es::bench {

struct DeliveryOptions {
  std::string name;    // for messages ("W7")
  std::string prefix;  // the measured events' streams: <prefix><first_stream + k>
  long first_stream = 0;
  long streams = 1000;
  std::string warm_stream;  // the warm-up markers' stream
  std::string endpoint;     // where the writers append
  // The subscriber of subscribe_and_measure() sees only this category
  // (empty: the whole log): on a node with other writers, their events
  // are not this run's.
  std::string category;
  std::chrono::milliseconds timeout{30000};
  CurveClient curve;    // the keys every client presents (es/curve.h)
  long rate = 5000;     // events per second, all writers together
  long events = 50000;  // how many the writers send
  long writers = 4;
  EventShape shape;
  std::uint64_t seed = 1;
  // How long to wait for the receiver after the last answer.
  std::chrono::milliseconds drain{3000};
  // Called about ten times a second from the measuring thread with the
  // events sent so far.
  std::function<void(std::uint64_t sent)> on_progress;
};

class DeliveryRun {
 public:
  // Makes the ids (fails on a duplicate, which v4 ids make unlikely).
  static Result<std::unique_ptr<DeliveryRun>> make(DeliveryOptions options);

  // One event seen by the receiver at time t (taken as it arrived).
  void receipt(const Uuid& id, std::string_view stream, std::string_view data, std::int64_t t);

  const DeliveryOptions& options() const { return o_; }
  long events() const { return o_.events; }

  std::vector<Uuid> ids;
  std::vector<std::int64_t> t_send, t_ack, t_recv;
  std::atomic<long> received{0}, dups{0}, foreign{0}, body_mismatch{0}, malformed{0};
  std::atomic<std::int64_t> marker_seen{-1}, marker_recv_ns{0};
  std::atomic<bool> receiver_failed{false};
  std::atomic<long> sent{0};
  std::int64_t t0 = 0;  // the writers' schedule starts here

 private:
  explicit DeliveryRun(DeliveryOptions options) : o_(std::move(options)) {}
  DeliveryOptions o_;
  std::unordered_map<Uuid, long, UuidHash> seq_of_;
};

// With the receiver already started: warm-up, writers, drain (up to
// options.drain after the last answer). `stop_receiver` ends the receiver
// (bounded) and returns its error, if any; it runs on every path, so no
// receiver outlives the measurement. `client` is the warm-up's.
Status measure(Client& client, DeliveryRun& run, const std::function<std::string()>& stop_receiver);

// measure() with an es::Subscription (everything, from the head on) on the
// node at `endpoint` as the receiver, in a thread of its own.
Status subscribe_and_measure(Client& client, DeliveryRun& run, const std::string& endpoint);

struct DeliveryResult {
  long sent = 0, received = 0, dups = 0, foreign = 0, body_mismatch = 0, malformed = 0;
  long received_before_ack = 0;                         // the publisher can beat the reply
  double sent_per_s = 0;                                // the rate the writers achieved
  std::vector<std::int64_t> from_ack_ns, from_send_ns;  // per event received
  // Every sent event received exactly once, and nothing else.
  bool complete() const {
    return received == sent && dups == 0 && foreign == 0 && body_mismatch == 0 && malformed == 0;
  }
};
DeliveryResult results(const DeliveryRun& run);

}  // namespace es::bench

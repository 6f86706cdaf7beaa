// daemon/metrics.h
//
// What esd counts for /metrics (esd(8), Metrics), and the node's health for
// /livez and /readyz. Facts are updated where they happen, without a lock:
// the request loop (requests, appends, commit groups, connections), the
// store's writer and applier (es::metrics::StoreMetrics). What the loop keeps
// in tables of its own (replicas, the follower, projections) is copied here
// once per heartbeat under a mutex that only that copy and a scrape take,
// never an append. render() and the health checks run on the HTTP
// listener's threads.
//
// Thread safety: all of it, as above. attach() a Store before it is used
// and detach it (attach(nullptr)) only once no scrape can run.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "es/status.h"
#include "es/store.h"

#include "metrics/metrics.h"
#include "protocol/messages.h"

namespace esd {

// What /livez and /readyz answer: an HTTP status and a one-line reason.
struct Health {
  int http_status = 503;
  std::string reason;
};

class NodeMetrics {
 public:
  NodeMetrics();

  // ---- requests (the loop): by kind and outcome
  // Names a request kind for the kind label (`name` is a static string).
  void name_kind(es::protocol::Kind kind, const char* name);
  void count_request(es::protocol::Kind kind, es::Code outcome);

  // ---- appends and commits (the loop)
  es::metrics::Counter appended_events;
  es::metrics::Counter appended_bytes;  // the events' type, data and metadata
  es::metrics::Counter conflicts;       // appends refused: wrong expected version
  es::metrics::Counter replicated_events;
  es::metrics::Histogram commit_seconds{es::metrics::duration_buckets()};
  es::metrics::Histogram commit_group_events{1,   2,   5,    10,   20,   50,    100,
                                             200, 500, 1000, 2000, 5000, 10000, 20000};
  es::metrics::Counter published_events;
  es::metrics::Counter reply_drops;
  es::metrics::Gauge clients;
  es::metrics::Gauge subscribers;
  // ---- connections refused during the handshake (the ZAP handler, the loop)
  es::metrics::Counter refused_keys;       // a key not in the allow-list
  es::metrics::Counter failed_handshakes;  // with keys: no key, or not this node's public key
  es::metrics::Counter refused_when_full;  // the connection cap (--max-clients)
  // ---- the store's writer and applier
  es::metrics::StoreMetrics store;

  // ---- what the loop copies once per heartbeat
  struct Replica {  // a replica or read node reporting to this node
    std::string listen, role;
    double lag_events = 0;
    double lag_seconds = 0;  // how old the oldest event it lacks is
    double report_age_seconds = 0;
  };
  struct Projection {
    std::string name, status;
    double position = 0;
    double lag_events = 0;
    double failures = 0;  // since esd started
  };
  struct Tables {
    std::string role;
    bool follows = false;  // a replica: the fields below
    std::string primary, follow_state;
    double primary_lag_events = 0;
    double primary_contact_seconds = -1;  // -1: never
    std::vector<Replica> replicas;
    std::vector<Projection> projections;
  };
  void set_tables(Tables tables);

  // ---- health
  // The store being opened (recovery): /readyz 503, /livez 200.
  void opening();
  // The loop serves (or not, with the reason): set by the loop at start and
  // each heartbeat.
  void serving(bool ready, std::string reason);
  // The loop is stopping: /readyz 503.
  void stopping();
  // The loop turned (each pass; polls wake at least once a second).
  void tick() { last_tick_ms_.store(now_ms(), std::memory_order_relaxed); }
  Health live() const;
  Health ready() const;

  void attach(const es::Store* s) { store_.store(s, std::memory_order_release); }
  // The exposition, version 0.0.4.
  std::string render() const;

  // A loop that has not turned for this long is not alive.
  static constexpr std::chrono::seconds kStuckAfter{5};

 private:
  static std::int64_t now_ms();
  enum class Phase { kStarting, kServing, kStopping };
  static constexpr std::size_t kKinds = 32;
  static constexpr std::size_t kCodes = 16;
  std::array<std::atomic<const char*>, kKinds> kind_names_{};
  std::array<std::array<es::metrics::Counter, kCodes>, kKinds> requests_;
  std::atomic<const es::Store*> store_{nullptr};
  std::atomic<std::int64_t> last_tick_ms_{0};
  std::atomic<Phase> phase_{Phase::kStarting};
  std::atomic<bool> ready_{false};
  const double start_time_s_;
  mutable std::mutex mu_;  // guards tables_ and not_ready_
  Tables tables_;
  std::string not_ready_ = "opening the store (recovery)";
};

}  // namespace esd

#include "metrics.h"

#include <string_view>

#include <sys/statvfs.h>

namespace esd {

using es::metrics::Exposition;

namespace {

double unix_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "checkpoint get" -> "checkpoint_get": label values as a query writes them.
std::string label_word(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (c == ' ') c = '_';
  return out;
}

}  // namespace

NodeMetrics::NodeMetrics() : start_time_s_(unix_now_s()) {}

std::int64_t NodeMetrics::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void NodeMetrics::name_kind(es::protocol::Kind kind, const char* name) {
  const auto k = static_cast<std::size_t>(kind);
  if (k < kKinds) kind_names_[k].store(name, std::memory_order_release);
}

void NodeMetrics::count_request(es::protocol::Kind kind, es::Code outcome) {
  auto k = static_cast<std::size_t>(kind);
  const auto c = static_cast<std::size_t>(outcome);
  // A kind without a name counts as kind 0, the one "unknown" series.
  if (k >= kKinds || kind_names_[k].load(std::memory_order_relaxed) == nullptr) k = 0;
  requests_[k][c < kCodes ? c : kCodes - 1].add();
}

void NodeMetrics::set_tables(Tables tables) {
  std::lock_guard lock(mu_);
  tables_ = std::move(tables);
}

void NodeMetrics::opening() { phase_.store(Phase::kStarting); }

void NodeMetrics::serving(bool ready, std::string reason) {
  tick();
  {
    std::lock_guard lock(mu_);
    not_ready_ = ready ? std::string() : std::move(reason);
  }
  ready_.store(ready);
  phase_.store(Phase::kServing);
}

void NodeMetrics::stopping() {
  ready_.store(false);
  phase_.store(Phase::kStopping);
}

Health NodeMetrics::live() const {
  switch (phase_.load()) {
    case Phase::kStarting:
      return {200, "alive: opening the store (recovery)"};
    case Phase::kStopping:
      return {200, "alive: stopping"};
    case Phase::kServing:
      break;
  }
  const std::int64_t idle_ms = now_ms() - last_tick_ms_.load(std::memory_order_relaxed);
  if (idle_ms > std::chrono::milliseconds(kStuckAfter).count()) {
    return {503,
            "stuck: the request loop has not turned for " + std::to_string(idle_ms / 1000) + " s"};
  }
  return {200, "alive"};
}

Health NodeMetrics::ready() const {
  if (phase_.load() == Phase::kStopping) return {503, "not ready: stopping"};
  if (ready_.load()) return {200, "ready"};
  std::lock_guard lock(mu_);
  return {503, "not ready: " + not_ready_};
}

std::string NodeMetrics::render() const {
  Exposition x;
  x.family("esd_build_info", "gauge", "esd's version (the value is always 1)")
      .sample("esd_build_info", {{"version", ES_VERSION}}, 1);
  x.gauge("esd_start_time_seconds", "When esd started (seconds since the epoch)", start_time_s_);
  x.gauge("esd_ready", "1 while /readyz answers 200 (the node serves), else 0",
          phase_.load() == Phase::kServing && ready_.load() ? 1 : 0);

  x.family("esd_requests_total", "counter",
           "Requests answered, by kind and outcome (ok, or the error code)");
  for (std::size_t k = 0; k < kKinds; ++k) {
    const char* name = kind_names_[k].load(std::memory_order_acquire);
    const std::string kind = name != nullptr ? label_word(name) : "unknown";
    for (std::size_t c = 0; c < kCodes; ++c) {
      const std::uint64_t n = requests_[k][c].value();
      // Every known kind's ok series is there from the start; the rest once seen.
      if (n == 0 && (c != 0 || name == nullptr)) continue;
      const std::string outcome = label_word(es::code_name(static_cast<es::Code>(c)));
      x.sample("esd_requests_total", {{"kind", kind}, {"outcome", outcome}},
               static_cast<double>(n));
    }
  }
  x.counter("esd_appended_events_total", "Events appended (acknowledged) by this node",
            static_cast<double>(appended_events.value()));
  x.counter("esd_appended_bytes_total", "Bytes of the appended events' types, data and metadata",
            static_cast<double>(appended_bytes.value()));
  x.counter("esd_append_conflicts_total",
            "Appends refused because a stream was not at the expected version",
            static_cast<double>(conflicts.value()));
  x.counter("esd_replicated_events_total", "Events a replica copied from its primary",
            static_cast<double>(replicated_events.value()));
  x.family("esd_commit_duration_seconds", "histogram",
           "Time to commit one group of appends (checks, journal write and flush), as the "
           "request loop waits for it")
      .histogram("esd_commit_duration_seconds", {}, commit_seconds.snapshot());
  x.family("esd_commit_group_events", "histogram", "Events per committed group of appends")
      .histogram("esd_commit_group_events", {}, commit_group_events.snapshot());
  x.family("esd_journal_write_duration_seconds", "histogram",
           "Time to write and flush one journal frame (a commit group) to disk")
      .histogram("esd_journal_write_duration_seconds", {}, store.journal_write_seconds.snapshot());
  x.counter("esd_journal_written_bytes_total", "Bytes written to the journal (frames, padded)",
            static_cast<double>(store.journal_written_bytes.value()));
  x.gauge("esd_journal_unapplied_bytes",
          "Journal bytes holding frames not yet in LMDB (the ring's use)",
          store.journal_unapplied_bytes.value());
  x.family("esd_lmdb_apply_duration_seconds", "histogram",
           "Time to bring one batch of journal frames into LMDB (its commit and sync)")
      .histogram("esd_lmdb_apply_duration_seconds", {}, store.apply_seconds.snapshot());
  x.counter("esd_lmdb_applied_frames_total", "Journal frames brought into LMDB",
            static_cast<double>(store.applied_frames.value()));
  x.gauge("esd_clients", "Connections to the request endpoint", clients.value());
  x.gauge("esd_subscribers", "Connections to the publisher", subscribers.value());
  x.counter("esd_published_events_total", "Events published to subscribers",
            static_cast<double>(published_events.value()));
  x.counter("esd_reply_drops_total",
            "Replies dropped because the client did not take them (its queue was full)",
            static_cast<double>(reply_drops.value()));
  x.family("esd_refused_connections_total", "counter",
           "Connections refused during the handshake, by reason: key (not in the allow-list), "
           "handshake (with keys: none given, or not this node's public key), full "
           "(--max-clients)")
      .sample("esd_refused_connections_total", {{"reason", "key"}},
              static_cast<double>(refused_keys.value()))
      .sample("esd_refused_connections_total", {{"reason", "handshake"}},
              static_cast<double>(failed_handshakes.value()))
      .sample("esd_refused_connections_total", {{"reason", "full"}},
              static_cast<double>(refused_when_full.value()));

  if (const es::Store* s = store_.load(std::memory_order_acquire)) {
    x.gauge("esd_head_position", "The position of the last event stored",
            static_cast<double>(s->head()));
    x.gauge("esd_head_time_seconds",
            "Commit time of the event at the head (seconds since the epoch; 0: empty)",
            static_cast<double>(s->head_time_us()) / 1e6);
    x.gauge("esd_streams", "Streams in the store", static_cast<double>(s->stream_count()));
    x.gauge("esd_store_size_bytes", "Size of the LMDB data file (data.mdb)",
            static_cast<double>(s->size_bytes()));
    x.gauge("esd_store_map_size_bytes", "LMDB's map size: what the data file may grow to now",
            static_cast<double>(s->map_size()));
    x.gauge("esd_journal_size_bytes", "The journal's size", static_cast<double>(s->journal_size()));
    struct statvfs fs {};
    if (::statvfs(s->dir().c_str(), &fs) == 0) {
      x.gauge("esd_filesystem_free_bytes", "Bytes free to esd on the data directory's file system",
              static_cast<double>(fs.f_bavail) * static_cast<double>(fs.f_frsize));
      x.gauge("esd_filesystem_size_bytes", "Size of the data directory's file system",
              static_cast<double>(fs.f_blocks) * static_cast<double>(fs.f_frsize));
    }
  }

  std::lock_guard lock(mu_);
  if (tables_.follows) {
    x.gauge("esd_primary_up", "A replica: 1 while it follows its primary, else 0",
            tables_.follow_state == "following" ? 1 : 0);
    x.gauge("esd_primary_lag_events",
            "A replica: events its primary had (as last seen) that it has not",
            tables_.primary_lag_events);
    x.gauge("esd_primary_contact_age_seconds",
            "A replica: seconds since its primary last answered (-1: never)",
            tables_.primary_contact_seconds);
  }
  x.family("esd_replica_lag_events", "gauge",
           "Events this node has that a replica (or read node) reporting to it lacks");
  for (const auto& r : tables_.replicas)
    x.sample("esd_replica_lag_events", {{"replica", r.listen}, {"role", r.role}}, r.lag_events);
  x.family("esd_replica_lag_seconds", "gauge",
           "How long ago the oldest event a replica lacks was committed (0: caught up)");
  for (const auto& r : tables_.replicas)
    x.sample("esd_replica_lag_seconds", {{"replica", r.listen}, {"role", r.role}}, r.lag_seconds);
  x.family("esd_replica_report_age_seconds", "gauge", "Seconds since a replica last reported");
  for (const auto& r : tables_.replicas) {
    x.sample("esd_replica_report_age_seconds", {{"replica", r.listen}, {"role", r.role}},
             r.report_age_seconds);
  }
  x.family("esd_projection_checkpoint_position", "gauge",
           "A hosted projection's checkpoint: every event up to it is folded in");
  for (const auto& p : tables_.projections)
    x.sample("esd_projection_checkpoint_position", {{"projection", p.name}}, p.position);
  x.family("esd_projection_lag_events", "gauge",
           "Events of the log a hosted projection has not folded in yet");
  for (const auto& p : tables_.projections)
    x.sample("esd_projection_lag_events", {{"projection", p.name}}, p.lag_events);
  x.family("esd_projection_status", "gauge",
           "A hosted projection's status: 1 for the one it is in (running, stopped, failed)");
  for (const auto& p : tables_.projections) {
    for (const char* status : {"running", "stopped", "failed"}) {
      x.sample("esd_projection_status", {{"projection", p.name}, {"status", status}},
               p.status == status ? 1 : 0);
    }
  }
  x.family("esd_projection_failures_total", "counter",
           "Times a hosted projection failed since esd started");
  for (const auto& p : tables_.projections)
    x.sample("esd_projection_failures_total", {{"projection", p.name}}, p.failures);
  return x.str();
}

}  // namespace esd

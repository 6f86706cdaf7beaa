// cmd/cmd_bench.cc: `es bench append | read | latency`, a benchmark against
// any node (-s), as `nats bench` and `redis-benchmark` are for theirs.
//
// It writes into the streams CATEGORY-1, CATEGORY-2, ... (--category,
// default "bench"); they stay until stream deletion exists. The workloads
// are lib/bench's loops, the ones esbench (tests/bench) runs for the
// comparison with the peers. Progress goes to stderr on a terminal; the
// summary is one object (JSON, or aligned "key: value" lines with -o text):
// counts, throughput and latency percentiles. Exit status: 0 when every
// request succeeded; else the summary, then the first error and its code.
#include <algorithm>
#include <optional>

#include "bench/append_loop.h"
#include "bench/delivery.h"
#include "bench/read_loop.h"
#include "bench/stats.h"
#include "cli/options.h"
#include "commands.h"
#include "output.h"
#include "progress.h"

namespace escmd {
namespace {

constexpr std::uint64_t kDefaultCount = 100'000;
constexpr double kDefaultBound = 600;  // seconds, when only --count is given
constexpr std::uint64_t kMaxCount = 1'000'000'000;
constexpr std::uint64_t kMaxLatencyEvents = 1'000'000;  // ids and times kept in memory
constexpr long kMaxClients = 256;
constexpr std::uint64_t kPreloadBatch = 1000;

// What every subcommand takes.
struct BenchArgs {
  std::string category = "bench";
  long streams = 100;
  std::size_t size = 200;
  std::optional<std::uint64_t> count;
  std::optional<double> duration;
};

struct AppendArgs : BenchArgs {
  long clients = 1;
  long batch = 1;
  bool expect = false;
};

struct ReadArgs : BenchArgs {
  bool stream = false;
  bool all = false;
  std::uint32_t page = 1000;
};

struct LatencyArgs : BenchArgs {
  long clients = 4;
  long rate = 1000;
};

// --count and --duration: the one given, or both (whichever ends first);
// neither: --count 100,000. A count alone is bounded by 600 s.
std::pair<std::uint64_t, double> bounds(const BenchArgs& a) {
  if (!a.count && !a.duration) return {kDefaultCount, kDefaultBound};
  return {a.count.value_or(kMaxCount), a.duration.value_or(kDefaultBound)};
}

es::bench::EventShape shape(const BenchArgs& a) {
  es::bench::EventShape s;
  s.type = "BenchEvent";
  s.data_bytes = a.size;
  s.ids = es::bench::IdKind::kV7;  // what es clients make
  return s;
}

std::chrono::milliseconds request_timeout(const Context& ctx) {
  return std::chrono::milliseconds(static_cast<long>(ctx.timeout_s * 1000));
}

double per_s(std::uint64_t n, double secs) {
  return secs > 0 ? static_cast<double>(n) / secs : 0.0;
}

// latency_p50_us ... latency_max_us, from samples in nanoseconds.
void latency_fields(ObjectWriter& w, const std::string& prefix, std::vector<std::int64_t>& ns) {
  const es::bench::LatencySummary l = es::bench::summarize(ns);
  w.field(prefix + "_p50_us", l.p50_us)
      .field(prefix + "_p90_us", l.p90_us)
      .field(prefix + "_p99_us", l.p99_us)
      .field(prefix + "_p99_9_us", l.p999_us)
      .field(prefix + "_max_us", l.max_us);
}

void common_fields(ObjectWriter& w, const char* workload, const Context& ctx, const BenchArgs& a) {
  w.field("workload", std::string_view(workload))
      .field("server", ctx.server)
      .field("category", a.category)
      .field("size", static_cast<std::uint64_t>(a.size));
}

// Prints the summary; then, when a request failed, its error.
ExitCode finish(Context& ctx, const ObjectWriter& w, const es::Status& first_error) {
  ctx.emit(w.str());
  if (!first_error.ok()) return ctx.fail(first_error);
  return ExitCode::kSuccess;
}

// The loop of `es bench append`, and the preload of `es bench read`.
es::bench::AppendLoopOptions loop_options(const Context& ctx, const BenchArgs& a, long clients,
                                          long batch, long streams) {
  es::bench::AppendLoopOptions o;
  o.endpoint = ctx.server;
  o.timeout = request_timeout(ctx);
  o.curve = ctx.curve;
  o.clients = clients;
  o.batch = batch;
  o.streams = streams;
  o.prefix = a.category + "-";
  o.first_stream = 1;
  o.pick = es::bench::StreamPick::kRoundRobin;
  o.shape = shape(a);
  o.seed = static_cast<std::uint64_t>(es::bench::now_ns());
  const auto [count, secs] = bounds(a);
  o.max_events = count;
  o.duration = std::chrono::nanoseconds(static_cast<std::int64_t>(secs * 1e9));
  return o;
}

ExitCode run_append(const AppendArgs& a, Context& ctx) {
  const long streams = std::max(a.streams, a.clients);
  es::bench::AppendLoopOptions o = loop_options(ctx, a, a.clients, a.batch, streams);
  o.expect = a.expect;
  Progress progress("appended", "events");
  if (a.count || !a.duration) progress.set_total(o.max_events);
  o.on_progress = [&progress](std::uint64_t n) { progress.update(n); };
  auto r = es::bench::run_append_loop(o);
  progress.clear();
  if (!r.ok()) return ctx.fail(r.status());
  // Nothing answered (no node there, a replica): the error alone says it.
  if (r->requests == 0 && !r->first_error.ok()) return ctx.fail(r->first_error);
  ObjectWriter w(ctx.text());
  common_fields(w, "append", ctx, a);
  w.field("clients", static_cast<std::uint64_t>(a.clients))
      .field("batch", static_cast<std::uint64_t>(a.batch))
      .field("streams", static_cast<std::uint64_t>(streams))
      .field("expect", a.expect)
      .field("events", r->events)
      .field("requests", r->requests)
      .field("errors", r->errors)
      .field("elapsed_s", r->secs)
      .field("events_per_s", per_s(r->events, r->secs))
      .field("mb_per_s", per_s(r->events * a.size, r->secs) / 1e6);
  latency_fields(w, "latency", r->latency_ns);
  return finish(ctx, w, r->first_error);
}

ExitCode run_read(const ReadArgs& a, Context& ctx) {
  if (a.stream == a.all) return ctx.usage("give --stream or --all (one of them)");
  std::uint64_t preloaded = 0;
  if (a.count) {
    // One client, 1000 events per request: into CATEGORY-1, or over the
    // category's streams for --all.
    es::bench::AppendLoopOptions o =
        loop_options(ctx, a, 1, kPreloadBatch, a.stream ? 1 : a.streams);
    Progress progress("preloaded", "events");
    progress.set_total(o.max_events);
    o.on_progress = [&progress](std::uint64_t n) { progress.update(n); };
    auto r = es::bench::run_append_loop(o);
    progress.clear();
    if (!r.ok()) return ctx.fail(r.status());
    if (!r->first_error.ok()) return ctx.fail(r->first_error);
    preloaded = r->events;
  }
  auto client = ctx.connect();
  es::bench::ReadLoopOptions o;
  o.stream = a.stream ? a.category + "-1" : "";
  o.page_events = a.page;
  o.time_limit = std::chrono::nanoseconds(static_cast<std::int64_t>(bounds(a).second * 1e9));
  Progress progress("read", "events");
  o.on_progress = [&progress](std::uint64_t n) { progress.update(n); };
  auto r = es::bench::run_read_loop(*client, o);
  progress.clear();
  if (!r.ok()) return ctx.fail(r.status());
  ObjectWriter w(ctx.text());
  common_fields(w, "read", ctx, a);
  w.field("stream", a.stream ? o.stream : "$all")
      .field("page", static_cast<std::uint64_t>(a.page))
      .field("preloaded", preloaded)
      .field("events", r->events)
      .field("requests", r->pages)
      .field("errors", std::uint64_t{0})
      .field("elapsed_s", r->secs)
      .field("events_per_s", per_s(r->events, r->secs))
      .field("mb_per_s", per_s(r->data_bytes, r->secs) / 1e6);
  latency_fields(w, "latency", r->page_latency_ns);
  return finish(ctx, w, es::Status::ok_status());
}

ExitCode run_latency(const LatencyArgs& a, Context& ctx) {
  // The events to send: --count, or --rate times --duration (default 5 s).
  const double secs = a.duration.value_or(5.0);
  const auto from_duration = static_cast<std::uint64_t>(static_cast<double>(a.rate) * secs);
  const std::uint64_t events =
      a.count ? (a.duration ? std::min(*a.count, from_duration) : *a.count) : from_duration;
  if (events == 0) return ctx.usage("--rate times --duration is less than one event");
  if (events > kMaxLatencyEvents)
    return ctx.usage("at most " + escli::with_commas(kMaxLatencyEvents) +
                     " events (--count, or --rate times --duration)");
  es::bench::DeliveryOptions o;
  o.name = "latency";
  o.prefix = a.category + "-";
  o.first_stream = 1;
  o.streams = a.streams;
  o.warm_stream = a.category + "-warm";
  o.category = a.category;
  o.endpoint = ctx.server;
  o.timeout = request_timeout(ctx);
  o.curve = ctx.curve;
  o.rate = a.rate;
  o.events = static_cast<long>(events);
  o.writers = a.clients;
  o.shape = shape(a);
  o.shape.ids = es::bench::IdKind::kV4;  // made up front: v7 would age before they are sent
  o.seed = static_cast<std::uint64_t>(es::bench::now_ns());
  o.drain = std::chrono::milliseconds(3000);
  Progress progress("sent", "events");
  progress.set_total(events);
  o.on_progress = [&progress](std::uint64_t n) { progress.update(n); };
  auto run = es::bench::DeliveryRun::make(o);
  if (!run.ok()) return ctx.fail(run.status());
  auto client = ctx.connect();
  es::Status s = es::bench::subscribe_and_measure(*client, **run, ctx.server);
  progress.clear();
  if (!s.ok()) return ctx.fail(s);
  es::bench::DeliveryResult r = es::bench::results(**run);
  ObjectWriter w(ctx.text());
  common_fields(w, "latency", ctx, a);
  w.field("clients", static_cast<std::uint64_t>(a.clients))
      .field("rate", static_cast<std::uint64_t>(a.rate))
      .field("streams", static_cast<std::uint64_t>(a.streams))
      .field("events", static_cast<std::uint64_t>(r.sent))
      .field("received", static_cast<std::uint64_t>(r.received))
      .field("missing", static_cast<std::uint64_t>(r.sent - r.received))
      .field("duplicates", static_cast<std::uint64_t>(r.dups))
      .field("errors", static_cast<std::uint64_t>(r.foreign + r.body_mismatch))
      .field("sent_per_s", r.sent_per_s);
  latency_fields(w, "latency", r.from_send_ns);
  latency_fields(w, "ack_latency", r.from_ack_ns);
  const es::Status delivered =
      r.complete() ? es::Status::ok_status()
                   : es::Status::io_error("the subscriber did not receive every event once");
  return finish(ctx, w, delivered);
}

// --category, --streams, --size, --count, --duration.
void add_common(CLI::App* sub, BenchArgs& a, std::uint64_t max_count) {
  sub->add_option("--category", a.category,
                  "Write into streams CATEGORY-1, CATEGORY-2, ... (default bench)")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            if (v.empty()) return "the category is empty";
            if (v.find('-') != std::string::npos)
              return v + " holds a '-' (a category is a stream's name up to its first '-')";
            es::Status s = es::validate_name("--category", v + "-1");
            return s.ok() ? "" : s.message();
          },
          "", "category"))
      ->type_name("NAME");
  sub->add_option("--streams", a.streams, "Streams to spread the events over (default 100)")
      ->check(escli::whole_number(1, 1'000'000))
      ->type_name("N");
  sub->add_option("--size", a.size, "Bytes of JSON data per event (default 200)")
      ->check(escli::whole_number(32, es::kMaxDataBytes))
      ->type_name("BYTES");
  sub->add_option("--count", a.count, "Events in all")
      ->check(escli::whole_number(1, max_count))
      ->type_name("N");
  sub->add_option("--duration", a.duration, "Seconds at most")
      ->check(escli::seconds(0.001, 86400))
      ->type_name("SECONDS");
}

}  // namespace

void register_bench(CLI::App& app, Context& ctx) {
  CLI::App* bench = app.add_subcommand("bench", "Measure a node: appends, reads, latency");
  bench->require_subcommand(1);
  bench->fallthrough();

  auto ap = std::make_shared<AppendArgs>();
  CLI::App* append = bench->add_subcommand("append", "Append events from closed-loop clients");
  add_common(append, *ap, kMaxCount);
  append->add_option("--clients", ap->clients, "Clients appending at once (default 1)")
      ->check(escli::whole_number(1, kMaxClients))
      ->type_name("N");
  append->add_option("--batch", ap->batch, "Events per append request (default 1)")
      ->check(escli::whole_number(1, es::kMaxAppendEvents))
      ->type_name("N");
  append->add_flag("--expect", ap->expect, "Each append carries its stream's expected version");
  append->callback([ap, &ctx] { ctx.exit_code = run_append(*ap, ctx); });

  auto rd = std::make_shared<ReadArgs>();
  CLI::App* read = bench->add_subcommand("read", "Read one stream, or the whole log, to its end");
  add_common(read, *rd, kMaxCount);
  read->get_option("--count")->description("Append N events first (1000 per request)");
  read->add_flag("--stream", rd->stream, "Read the stream CATEGORY-1 from its start");
  read->add_flag("--all", rd->all, "Read the whole log from its start");
  read->add_option("--page", rd->page, "Events per read request (default 1000)")
      ->check(escli::whole_number(1, es::kMaxReadLimit))
      ->type_name("N");
  read->callback([rd, &ctx] { ctx.exit_code = run_read(*rd, ctx); });

  auto lt = std::make_shared<LatencyArgs>();
  CLI::App* latency =
      bench->add_subcommand("latency", "Time from an append's send to a subscriber's receipt");
  add_common(latency, *lt, kMaxLatencyEvents);
  latency->get_option("--duration")->description("Seconds of sending (default 5)");
  latency->add_option("--rate", lt->rate, "Events per second, all clients together (default 1000)")
      ->check(escli::whole_number(1, 1'000'000))
      ->type_name("N");
  latency->add_option("--clients", lt->clients, "Clients appending (default 4)")
      ->check(escli::whole_number(1, kMaxClients))
      ->type_name("N");
  latency->callback([lt, &ctx] { ctx.exit_code = run_latency(*lt, ctx); });
}

}  // namespace escmd

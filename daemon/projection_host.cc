#include "projection_host.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "es/projection.h"
#include "es/subscription.h"

namespace esd {

using es::Status;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kRestorePage = 10'000;
constexpr std::chrono::milliseconds kRunnerTimeout(1000);

Status not_found(const std::string& name) {
  return Status::not_found("no projection named " + name);
}

// The stored definition of `name`; kNotFound when there is none.
es::Result<es::ProjectionDef> load_def(es::ProjectionStore& store, const std::string& name) {
  auto def = store.get(name);
  if (!def.ok()) return def.status();
  if (!def->has_value()) return not_found(name);
  return std::move(**def);
}

}  // namespace

ProjectionHost::ProjectionHost(es::ProjectionStore& store, std::string endpoint,
                               bool reads_elsewhere)
    : store_(store), endpoint_(std::move(endpoint)), reads_elsewhere_(reads_elsewhere) {}

ProjectionHost::~ProjectionHost() { close(); }

Status ProjectionHost::start_all() {
  auto defs = store_.list();
  if (!defs.ok()) return defs.status();
  std::lock_guard lock(mu_);
  for (const auto& def : *defs) {
    if (def.status != "running") continue;
    launch(live_, def, def.generation, def.source, false);
    if (def.next_generation != 0)
      launch(rebuilds_, def, def.next_generation, def.next_source, true);
  }
  return {};
}

void ProjectionHost::close() {
  std::vector<std::unique_ptr<Runner>> all;
  {
    std::lock_guard lock(mu_);
    for (auto* map : {&live_, &rebuilds_})
      for (auto& [name, r] : *map) all.push_back(std::move(r));
    live_.clear();
    rebuilds_.clear();
  }
  for (auto& r : all) r->stop = true;  // all at once, then wait
  for (auto& r : all) halt(std::move(r));
}

void ProjectionHost::launch(RunnerMap& map, const es::ProjectionDef& def, std::uint32_t generation,
                            const std::string& source, bool rebuild) {
  auto r = std::make_unique<Runner>();
  r->name = def.name;
  r->generation = generation;
  r->source = source;
  r->rebuild = rebuild;
  // Until the runner has loaded its states, it is where its last commit was.
  if (auto cp = store_.checkpoint(def.name, generation); cp.ok()) r->position = *cp;
  Runner* raw = r.get();
  r->thread = std::thread([this, raw] { run(raw); });
  map[def.name] = std::move(r);
}

void ProjectionHost::halt(std::unique_ptr<Runner> runner) {
  if (!runner) return;
  runner->stop = true;
  if (runner->thread.joinable()) runner->thread.join();
}

std::unique_ptr<ProjectionHost::Runner> ProjectionHost::take(RunnerMap& map,
                                                             const std::string& name) {
  auto it = map.find(name);
  if (it == map.end()) return nullptr;
  auto r = std::move(it->second);
  map.erase(it);
  return r;
}

void ProjectionHost::run(Runner* r) {
  auto compiled = es::Projection::compile(r->source, r->name);
  if (!compiled.ok()) return fail(r, compiled.status(), 0);
  es::Projection& p = **compiled;
  // Back to where the last commit left it.
  std::string after;
  for (;;) {
    auto page = store_.states(r->name, r->generation, after, kRestorePage);
    if (!page.ok()) return fail(r, page.status(), 0);
    for (const auto& [key, state] : *page) {
      if (Status s = p.restore(key, state); !s.ok()) return fail(r, s, 0);
    }
    if (page->size() < kRestorePage) break;
    after = page->back().first;
  }
  auto checkpoint = store_.checkpoint(r->name, r->generation);
  if (!checkpoint.ok()) return fail(r, checkpoint.status(), 0);
  es::Position committed = *checkpoint;
  p.restore_position(committed);
  r->position = committed;
  r->partitions = p.partitions();

  auto flush = [&](es::Position upto) -> Status {
    auto changed = p.take_changed();
    if (changed.empty() && upto <= committed) return {};
    ES_RETURN_IF_ERROR(store_.commit(r->name, r->generation, changed, upto));
    committed = upto;
    r->position = upto;
    r->partitions = p.partitions();
    return {};
  };
  auto window_start = Clock::now();
  std::uint64_t window_applied = p.applied();
  es::Client client(endpoint_, es::ClientOptions{kRunnerTimeout});
  Status failure;
  es::Position failed_at = 0;
  while (!r->stop.load()) {
    es::SubscriptionOptions options;
    const auto& src = p.source();
    options.filter = es::SubscriptionFilter{src.read_stream(), src.read_category(), src.types};
    options.from = committed + 1;
    options.tick_interval = std::chrono::milliseconds(100);
    options.on_tick = [&](es::Subscription& sub) -> Status {
      ES_RETURN_IF_ERROR(flush(sub.checkpoint_position()));
      r->head = sub.head_seen();
      const auto now = Clock::now();
      const double secs = std::chrono::duration<double>(now - window_start).count();
      if (secs >= 1.0) {
        r->rate = static_cast<double>(p.applied() - window_applied) / secs;
        window_start = now;
        window_applied = p.applied();
      }
      if (r->rebuild && swap_in(r)) spdlog::info("projection {}: reset done, swapped in", r->name);
      return {};
    };
    es::Subscription sub(client, std::move(options));
    Status s = sub.run(
        [&](const es::RecordedEvent& e) {
          Status applied = p.apply(e);
          if (applied.ok()) return es::Delivery::kContinue;
          failure = applied;
          failed_at = e.position;
          return es::Delivery::kRefused;
        },
        r->stop);
    // Whatever was folded in before a stop or a failure is kept.
    if (Status flushed = flush(sub.checkpoint_position()); !flushed.ok())
      return fail(r, flushed, 0);
    if (!failure.ok()) return fail(r, failure, failed_at);
    if (s.ok() || r->stop.load()) break;
    if (s.code() != es::Code::kUnavailable) return fail(r, s, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the node is not up yet
  }
  r->done = true;
}

bool ProjectionHost::swap_in(Runner* rebuild) {
  std::unique_ptr<Runner> old;
  std::uint32_t old_generation = 0;
  {
    std::lock_guard lock(mu_);
    auto live = live_.find(rebuild->name);
    if (live != live_.end() && live->second->position.load() > rebuild->position.load())
      return false;  // not caught up yet
    auto def = store_.get(rebuild->name);
    if (!def.ok() || !def->has_value() || (*def)->next_generation != rebuild->generation)
      return false;
    es::ProjectionDef d = std::move(**def);
    old_generation = d.generation;
    d.generation = rebuild->generation;
    d.source = rebuild->source;
    d.next_generation = 0;
    d.next_source.clear();
    d.status = "running";
    d.error.clear();
    d.error_position = 0;
    if (Status s = store_.put(d); !s.ok()) {
      spdlog::error("projection {}: cannot swap in the reset: {}", d.name, s.message());
      return false;
    }
    old = take(live_, rebuild->name);
    auto self = take(rebuilds_, rebuild->name);
    rebuild->rebuild = false;
    live_[rebuild->name] = std::move(self);
  }
  halt(std::move(old));
  if (Status s = store_.drop_generation(rebuild->name, old_generation); !s.ok())
    spdlog::warn("projection {}: old generation {} not dropped: {}", rebuild->name, old_generation,
                 s.message());
  return true;
}

void ProjectionHost::fail(Runner* r, const Status& why, es::Position at) {
  r->done = true;
  if (r->stop.load()) return;  // stopping: not a failure of the projection
  spdlog::error("{}", why.message());
  std::lock_guard lock(mu_);
  auto def = store_.get(r->name);
  if (!def.ok() || !def->has_value()) return;
  es::ProjectionDef d = std::move(**def);
  if (r->rebuild) {
    d.error = "reset failed: " + why.message();  // the old build goes on answering
    d.error_position = at;
    d.next_generation = 0;
    d.next_source.clear();
  } else {
    d.status = "failed";
    d.error = why.message();
    d.error_position = at;
  }
  if (Status s = store_.put(d); !s.ok())
    spdlog::error("projection {}: cannot record the failure: {}", r->name, s.message());
}

Status ProjectionHost::add(const std::string& name, const std::string& source) {
  if (auto compiled = es::Projection::compile(source, name); !compiled.ok())
    return compiled.status();
  std::lock_guard lock(mu_);
  auto existing = store_.get(name);
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) {
    return Status(es::Code::kBusy, "a projection named " + name +
                                       " exists (es project reset NAME FILE changes its file)");
  }
  es::ProjectionDef def;
  def.name = name;
  def.source = source;
  ES_RETURN_IF_ERROR(store_.put(def));
  launch(live_, def, def.generation, def.source, false);
  return {};
}

std::vector<std::unique_ptr<ProjectionHost::Runner>> ProjectionHost::detach(
    const std::string& name) {
  std::vector<std::unique_ptr<Runner>> out;
  for (auto* map : {&live_, &rebuilds_}) {
    if (auto r = take(*map, name)) {
      r->stop = true;
      out.push_back(std::move(r));
    }
  }
  return out;
}

Status ProjectionHost::stop(const std::string& name) {
  std::vector<std::unique_ptr<Runner>> stopping;
  {
    std::lock_guard lock(mu_);
    auto d = load_def(store_, name);
    if (!d.ok()) return d.status();
    if (d->status == "running") d->status = "stopped";
    ES_RETURN_IF_ERROR(store_.put(*d));
    stopping = detach(name);
  }
  for (auto& r : stopping) halt(std::move(r));
  return {};
}

Status ProjectionHost::start(const std::string& name) {
  std::unique_ptr<Runner> finished_live, finished_rebuild;
  {
    std::lock_guard lock(mu_);
    auto loaded = load_def(store_, name);
    if (!loaded.ok()) return loaded.status();
    es::ProjectionDef d = std::move(loaded).value();
    // A runner that ended (failed) is replaced; a live one is left alone.
    auto ended = [&](RunnerMap& map) {
      auto it = map.find(name);
      return it == map.end() || it->second->done.load();
    };
    d.status = "running";
    d.error.clear();
    d.error_position = 0;
    ES_RETURN_IF_ERROR(store_.put(d));
    if (ended(live_)) {
      finished_live = take(live_, name);
      launch(live_, d, d.generation, d.source, false);
    }
    if (d.next_generation != 0 && ended(rebuilds_)) {
      finished_rebuild = take(rebuilds_, name);
      launch(rebuilds_, d, d.next_generation, d.next_source, true);
    }
  }
  halt(std::move(finished_live));
  halt(std::move(finished_rebuild));
  return {};
}

Status ProjectionHost::reset(const std::string& name, const std::string& source) {
  std::unique_ptr<Runner> previous;
  std::uint32_t abandoned = 0;
  {
    std::lock_guard lock(mu_);
    auto loaded = load_def(store_, name);
    if (!loaded.ok()) return loaded.status();
    es::ProjectionDef d = std::move(loaded).value();
    const std::string& next_source = source.empty() ? d.source : source;
    if (auto compiled = es::Projection::compile(next_source, name); !compiled.ok())
      return compiled.status();
    previous = take(rebuilds_, name);  // a reset in progress starts over
    if (previous) previous->stop = true;
    abandoned = d.next_generation;
    d.next_generation = std::max(d.generation, d.next_generation) + 1;
    d.next_source = next_source;
    d.status = "running";
    d.error.clear();
    d.error_position = 0;
    ES_RETURN_IF_ERROR(store_.put(d));
    // If the live build is stopped or failed, its states still answer
    // until this one has passed its checkpoint.
    launch(rebuilds_, d, d.next_generation, d.next_source, true);
  }
  halt(std::move(previous));
  if (abandoned != 0) return store_.drop_generation(name, abandoned);
  return {};
}

Status ProjectionHost::remove(const std::string& name) {
  std::vector<std::unique_ptr<Runner>> stopping;
  {
    std::lock_guard lock(mu_);
    if (auto d = load_def(store_, name); !d.ok()) return d.status();
    stopping = detach(name);
  }
  for (auto& r : stopping) halt(std::move(r));
  std::lock_guard lock(mu_);
  return store_.remove(name);
}

es::Result<std::vector<es::protocol::ProjectionInfo>> ProjectionHost::info(const std::string& name,
                                                                           es::Position head) {
  std::lock_guard lock(mu_);
  std::vector<es::ProjectionDef> defs;
  if (name.empty()) {
    auto all = store_.list();
    if (!all.ok()) return all.status();
    defs = std::move(all).value();
  } else {
    auto one = store_.get(name);
    if (!one.ok()) return one.status();
    if (!one->has_value()) return not_found(name);
    defs.push_back(std::move(**one));
  }
  std::vector<es::protocol::ProjectionInfo> out;
  for (const auto& d : defs) {
    es::protocol::ProjectionInfo i;
    i.name = d.name;
    i.status = d.status;
    // Another node's head is known only from a running projection.
    i.head = reads_elsewhere_ ? 0 : head;
    i.error = d.error;
    i.error_position = d.error_position;
    i.generation = d.generation;
    i.source = d.source;
    auto live = live_.find(d.name);
    if (live != live_.end() && !live->second->done.load()) {
      i.position = live->second->position.load();
      i.head = std::max(i.head, live->second->head.load());
      i.partitions = live->second->partitions.load();
      i.events_per_s = live->second->rate.load();
    } else {
      auto cp = store_.checkpoint(d.name, d.generation);
      if (!cp.ok()) return cp.status();
      i.position = *cp;
    }
    auto rebuild = rebuilds_.find(d.name);
    i.rebuilding = d.next_generation != 0;
    if (rebuild != rebuilds_.end()) i.rebuild_position = rebuild->second->position.load();
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace esd

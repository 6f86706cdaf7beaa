#include "projection_host.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <tuple>

#include <spdlog/spdlog.h>

#include "es/projection.h"
#include "es/subscription.h"

#include "projection_worker.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace esd {

using es::Status;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::chrono::milliseconds kStopGrace(3000);

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
                               bool reads_elsewhere, Options options)
    : store_(store),
      endpoint_(std::move(endpoint)),
      reads_elsewhere_(reads_elsewhere),
      options_(std::move(options)) {}

ProjectionHost::~ProjectionHost() { close(); }

Status ProjectionHost::start_all() {
  auto defs = store_.list();
  if (!defs.ok()) return defs.status();
  std::lock_guard lock(mu_);
  for (const auto& def : *defs) {
    if (def.status != "running") continue;
    if (Status room = room_for_one(); !room.ok()) {
      spdlog::error("projection {} not started: {}", def.name, room.message());
      continue;
    }
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

es::Result<es::Worker> ProjectionHost::spawn(const std::string& mode, const std::string& name,
                                             std::uint32_t generation, const std::string& source) {
  WorkerLaunch launch;
  launch.exe = options_.exe;
  launch.mode = mode;
  launch.name = name;
  launch.endpoint = endpoint_;
  launch.key_file = options_.key_file;
  launch.server_key = options_.curve.server_key;
  launch.limits = limits();
  launch.keys = {{"generation", std::to_string(generation)},
                 {"projections", options_.projections_dir}};
  return launch_worker(launch, source);
}

namespace {}  // namespace

Status ProjectionHost::check(const std::string& name, const std::string& source) {
  auto worker = spawn("check", name, 0, source);
  if (!worker.ok()) return worker.status();
  std::string reported;
  const auto deadline =
      Clock::now() + limits().start_cpu * es::kCpuBudgetScale + std::chrono::seconds(2);
  bool killed = false;
  es::read_reports(
      worker->reports,
      [&](const std::string& line) {
        if (line.rfind("F ", 0) == 0) reported = es::parse_failure_report(line).second;
      },
      [&] {
        if (!killed && Clock::now() > deadline) {
          ::kill(worker->pid, SIGKILL);  // stuck before its watchdog started
          killed = true;
        }
      });
  const int status = es::wait_exit(worker->pid);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return Status::invalid(es::why_worker_ended(name, status, reported));
}

void ProjectionHost::run(Runner* r) {
  auto worker = spawn("run", r->name, r->generation, r->source);
  if (!worker.ok()) return fail(r, worker.status(), 0);
  std::string reported;
  es::Position failed_at = 0;
  Clock::time_point term_sent{};
  bool killed = false;
  es::read_reports(
      worker->reports,
      [&](const std::string& line) {
        if (line.rfind("P ", 0) == 0) {
          std::uint64_t position = 0, head = 0, partitions = 0;
          double rate = 0;
          if (std::sscanf(line.c_str(), "P %lu %lu %lu %lf", &position, &head, &partitions,
                          &rate) == 4) {
            r->position = position;
            r->head = std::max<es::Position>(r->head.load(), head);
            r->partitions = partitions;
            r->rate = rate;
            if (r->rebuild && swap_in(r))
              spdlog::info("projection {}: reset done, swapped in", r->name);
          }
        } else if (line.rfind("F ", 0) == 0) {
          std::tie(failed_at, reported) = es::parse_failure_report(line);
        } else if (line.rfind("C ", 0) == 0) {
          failed_at = std::strtoull(line.c_str() + 2, nullptr, 10);
        }
      },
      [&] {
        if (!r->stop.load()) return;
        const auto now = Clock::now();
        if (term_sent == Clock::time_point{}) {
          ::kill(worker->pid, SIGTERM);  // it commits its last batch and exits
          term_sent = now;
        } else if (!killed && now - term_sent > kStopGrace) {
          spdlog::warn("projection {}: its worker did not stop within {} ms: killed", r->name,
                       kStopGrace.count());
          ::kill(worker->pid, SIGKILL);
          killed = true;
        }
      });
  const int status = es::wait_exit(worker->pid);
  if (r->stop.load() || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    r->done = true;
    return;
  }
  std::string why = es::why_worker_ended(r->name, status, reported);
  if (reported.empty() && failed_at != 0)
    why += " on the event at position " + std::to_string(failed_at);
  fail(r, Status::invalid(why), failed_at);
}

es::SandboxLimits ProjectionHost::limits() const {
  std::lock_guard lock(limits_mu_);
  return options_.limits;
}

void ProjectionHost::set_limits(const es::SandboxLimits& limits, unsigned max_workers) {
  {
    std::lock_guard lock(limits_mu_);
    options_.limits = limits;
  }
  std::lock_guard lock(mu_);
  options_.max_workers = max_workers;
}

Status ProjectionHost::room_for_one() const {
  if (running() < options_.max_workers) return {};
  return Status(es::Code::kBusy, "this node runs " + std::to_string(options_.max_workers) +
                                     " projections already, its limit (esd --max-projections)");
}

unsigned ProjectionHost::running() const {
  unsigned n = 0;
  for (const auto* map : {&live_, &rebuilds_}) {
    for (const auto& [name, r] : *map) n += r->done.load() ? 0 : 1;
  }
  return n;
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

std::map<std::string, std::uint64_t> ProjectionHost::failures() {
  std::lock_guard lock(mu_);
  return failures_;
}

void ProjectionHost::fail(Runner* r, const Status& why, es::Position at) {
  r->done = true;
  if (r->stop.load()) return;  // stopping: not a failure of the projection
  spdlog::error("{}", why.message());
  std::lock_guard lock(mu_);
  ++failures_[r->name];
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
  ES_RETURN_IF_ERROR(check(name, source));
  std::lock_guard lock(mu_);
  ES_RETURN_IF_ERROR(room_for_one());
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
    if (ended(live_)) ES_RETURN_IF_ERROR(room_for_one());
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
  std::string next_source = source;
  if (next_source.empty()) {
    std::lock_guard lock(mu_);
    auto loaded = load_def(store_, name);
    if (!loaded.ok()) return loaded.status();
    next_source = loaded->source;
  }
  // Compiled outside mu_: the runners' supervisors need it meanwhile.
  ES_RETURN_IF_ERROR(check(name, next_source));
  {
    std::lock_guard lock(mu_);
    ES_RETURN_IF_ERROR(begin_rebuild(name, next_source, &previous, &abandoned));
  }
  halt(std::move(previous));
  if (abandoned != 0) return store_.drop_generation(name, abandoned);
  return {};
}

// A new generation of `name` from the start of the log, beside the live
// one (reset). REQUIRES: mu_ held; the caller halts `previous` and drops
// the `abandoned` generation (0: none) once it has let go of mu_.
Status ProjectionHost::begin_rebuild(const std::string& name, const std::string& source,
                                     std::unique_ptr<Runner>* previous, std::uint32_t* abandoned) {
  auto loaded = load_def(store_, name);
  if (!loaded.ok()) return loaded.status();
  es::ProjectionDef d = std::move(loaded).value();
  if (rebuilds_.find(name) == rebuilds_.end()) ES_RETURN_IF_ERROR(room_for_one());
  *previous = take(rebuilds_, name);  // a reset in progress starts over
  if (*previous) (*previous)->stop = true;
  *abandoned = d.next_generation;
  d.next_generation = std::max(d.generation, d.next_generation) + 1;
  d.next_source = source;
  d.status = "running";
  d.error.clear();
  d.error_position = 0;
  ES_RETURN_IF_ERROR(store_.put(d));
  // If the live build is stopped or failed, its states still answer
  // until this one has passed its checkpoint.
  launch(rebuilds_, d, d.next_generation, d.next_source, true);
  return {};
}

void ProjectionHost::rebuild_without(const std::vector<std::string>& deleted) {
  std::vector<std::unique_ptr<Runner>> previous;
  std::vector<std::pair<std::string, std::uint32_t>> abandoned;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, runner] : live_) {
      if (runner->done.load()) continue;  // stopped or failed: its states wait for a reset
      auto loaded = load_def(store_, name);
      if (!loaded.ok()) continue;
      std::unique_ptr<Runner> old;
      std::uint32_t dropped = 0;
      const std::string& source =
          loaded->next_generation != 0 ? loaded->next_source : loaded->source;
      Status s = begin_rebuild(name, source, &old, &dropped);
      if (!s.ok()) {
        spdlog::error("projection {}: not rebuilt after a deletion or a forget: {}", name,
                      s.message());
        continue;
      }
      spdlog::info(
          "projection {}: rebuilding without the events {}{}", name,
          deleted.front().starts_with("of ") ? deleted.front() : "of stream " + deleted.front(),
          deleted.size() > 1 ? " and others" : "");
      if (old) previous.push_back(std::move(old));
      if (dropped != 0) abandoned.emplace_back(name, dropped);
    }
  }
  for (auto& r : previous) halt(std::move(r));
  for (const auto& [name, generation] : abandoned) {
    if (Status s = store_.drop_generation(name, generation); !s.ok())
      spdlog::error("projection {}: {}", name, s.message());
  }
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

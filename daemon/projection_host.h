// daemon/projection_host.h
//
// The ProjectionHost runs the projections a node hosts (es project add ...).
// Each runs in a worker process of its own (daemon/projection_worker.h,
// projection/sandbox.h), with its own es::Subscription to the node's
// request endpoint (the same client any read side uses); it folds events
// with es::Projection, and every tick (and every page while catching up)
// commits the changed partitions with the checkpoint they reach, in one
// transaction of the ProjectionStore. At start it loads the states and goes
// on after the checkpoint, so a crash loses nothing and applies nothing
// twice. A thread here supervises each worker: it reads its reports and
// stops it (SIGTERM, then SIGKILL after kStopGrace).
//
// A projection that fails on an event stops there: its status says failed,
// with the event's position and jq's message; the states stay as they were
// before that event. So does one whose worker crashes, runs out of memory or
// takes more CPU time than its limits allow, with the reason; it is not
// started again until `start` (or a restart of esd) tries again from there.
// A new program (add, reset) is compiled first in a worker of its own.
//
// A reset builds a new generation beside the running one, from the start of
// the log (with the file's new source, if given); queries keep reading the
// old generation until the new one has caught up with it, then the new one
// is swapped in, in one transaction, and the old one is dropped.
//
// Thread safety: its methods are called from the node's loop thread; runners
// are its own threads. Methods that stop a runner wait for it (at most about
// its client's timeout, 1 s, when the runner waits on the loop itself).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "es/curve.h"
#include "es/projection_store.h"

#include "projection/sandbox.h"
#include "protocol/messages.h"

namespace esd {

class ProjectionHost {
 public:
  // `endpoint`: the node whose log the runners read (this node's own request
  // endpoint, or another's: the read side apart from the write side).
  struct Options {
    std::string projections_dir;  // the ProjectionStore's, which workers open too
    es::SandboxLimits limits;
    unsigned max_workers = 64;  // running projections, resets' builds included
    std::string exe;            // the esd to run workers with (default: this one)
    // The keys workers present to the node they read (keyring.h): the
    // node's key file, which a worker reads itself (a secret key is never
    // on a command line), and the server key. Empty: none.
    std::string key_file;
    es::CurveClient curve;
  };
  ProjectionHost(es::ProjectionStore& store, std::string endpoint, bool reads_elsewhere,
                 Options options);
  ~ProjectionHost();
  ProjectionHost(const ProjectionHost&) = delete;
  ProjectionHost& operator=(const ProjectionHost&) = delete;

  // Starts every stored projection whose status is running.
  es::Status start_all();
  // Stops every runner (their last batch committed).
  void close();

  es::Status add(const std::string& name, const std::string& source);
  es::Status stop(const std::string& name);
  es::Status start(const std::string& name);
  es::Status reset(const std::string& name, const std::string& source);
  es::Status remove(const std::string& name);
  // Streams were deleted (es delete) or subjects forgotten (es forget),
  // `deleted` says which, for the log: every running projection is rebuilt
  // (as by reset, with its source), so that no state keeps what they held.
  void rebuild_without(const std::vector<std::string>& deleted);

  // A reload's new limits: workers started from now on get them; running
  // ones keep theirs. Projections running above a lower max_workers go on.
  void set_limits(const es::SandboxLimits& limits, unsigned max_workers);

  // Status of one projection (name) or all (empty name); `head` is this
  // node's, used when the projection is not running and reads this node.
  // kNotFound for an unknown name.
  es::Result<std::vector<es::protocol::ProjectionInfo>> info(const std::string& name,
                                                             es::Position head);
  // How many times each projection failed since esd started, by name.
  std::map<std::string, std::uint64_t> failures();

 private:
  struct Runner {
    std::string name;
    std::uint32_t generation = 0;
    std::string source;
    std::atomic<bool> rebuild{false};  // a reset's new generation, not answering queries yet
    std::atomic<bool> stop{false};
    std::atomic<bool> done{false};
    std::atomic<es::Position> position{0};
    std::atomic<es::Position> head{0};  // of the node it reads, as last seen
    std::atomic<std::uint64_t> partitions{0};
    std::atomic<double> rate{0};
    std::thread thread;
  };
  // Runs `mode` (check, run) of a worker for `name` with `source` on its
  // stdin; for check, waits for it and returns its verdict.
  es::Result<es::Worker> spawn(const std::string& mode, const std::string& name,
                               std::uint32_t generation, const std::string& source);
  es::Status check(const std::string& name, const std::string& source);
  es::Status begin_rebuild(const std::string& name, const std::string& source,
                           std::unique_ptr<Runner>* previous, std::uint32_t* abandoned);
  unsigned running() const;         // REQUIRES: mu_ held
  es::Status room_for_one() const;  // kBusy at max_workers; REQUIRES: mu_ held
  using RunnerMap = std::map<std::string, std::unique_ptr<Runner>>;

  void launch(RunnerMap& map, const es::ProjectionDef& def, std::uint32_t generation,
              const std::string& source, bool rebuild);
  void run(Runner* runner);
  // When the build `rebuild` has caught up with the live one, swaps it in
  // and returns true.
  bool swap_in(Runner* rebuild);
  void fail(Runner* runner, const es::Status& why, es::Position at);
  // Stops and joins; REQUIRES: mu_ not held (runners take it).
  static void halt(std::unique_ptr<Runner> runner);
  std::unique_ptr<Runner> take(RunnerMap& map, const std::string& name);
  // Takes the runners of `name` out, stop flags set. REQUIRES: mu_ held;
  // halt() them after releasing it.
  std::vector<std::unique_ptr<Runner>> detach(const std::string& name);

  es::ProjectionStore& store_;
  std::string endpoint_;
  bool reads_elsewhere_ = false;
  Options options_;  // limits guarded by limits_mu_, max_workers by mu_
  mutable std::mutex limits_mu_;
  es::SandboxLimits limits() const;
  std::mutex mu_;  // guards the maps and read-modify-writes of definitions
  RunnerMap live_;
  RunnerMap rebuilds_;
  std::map<std::string, std::uint64_t> failures_;  // guarded by mu_
};

}  // namespace esd

// daemon/projection_worker.h
//
// `esd --projection-worker check|run|at KEY=VALUE...`, the process a hosted
// projection runs in (see projection/sandbox.h; the ProjectionHost spawns
// it, and the dashboard for states at a position). It reads the
// projection's jq program on stdin and writes reports on fd 3, one line
// each:
//   P position head partitions events_per_s   progress, at every commit
//   S {"key":K,"state":S}                     at: a partition's state
//   E position                                at: the states are all out
//   F position message                        a failure; it then exits 10
// check: compiles the program (with `from` and `init`) and exits 0, or
// reports why not. run: restores the states of name/generation from the
// ProjectionStore in `projections`, follows the log of `endpoint` from its
// checkpoint and commits every 100 ms, until SIGTERM (exit 0, its last
// batch committed) or a failure.
// at: folds the log of `endpoint` up to position `at` into a new instance
// and reports its states (only `partition`'s when given); stores nothing.
// Keys: name, generation, endpoint, key and server-key (the key pair to
// present, and the node's public key), projections, parent (esd's pid: the
// worker ends with it), event-cpu-ms, start-cpu-ms, memory, at, partition.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "es/result.h"

#include "projection/sandbox.h"

namespace esd {

int projection_worker_main(int argc, char** argv);

// What a worker is started with; `keys` are the mode's own KEY=VALUE pairs
// beyond the common ones.
struct WorkerLaunch {
  std::string exe;  // esd's path; empty: this program
  std::string mode;
  std::string name;
  std::string endpoint;
  std::string key_file;
  std::string server_key;
  es::SandboxLimits limits;
  std::vector<std::pair<std::string, std::string>> keys;
};

// Spawns a worker and gives it `source` whole on its stdin (at most 1 MiB;
// a worker that died first leaves the rest unwritten and says why in its
// exit status).
es::Result<es::Worker> launch_worker(const WorkerLaunch& launch, const std::string& source);

}  // namespace esd

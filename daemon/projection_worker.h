// daemon/projection_worker.h
//
// `esd --projection-worker check|run KEY=VALUE...`, the process a hosted
// projection runs in (see projection/sandbox.h; the ProjectionHost spawns
// it). It reads the projection's jq program on stdin and writes reports
// on fd 3, one line each:
//   P position head partitions events_per_s   progress, at every commit
//   F position message                        a failure; it then exits 10
// check: compiles the program (with `from` and `init`) and exits 0, or
// reports why not. run: restores the states of name/generation from the
// ProjectionStore in `projections`, follows the log of `endpoint` from its
// checkpoint and commits every 100 ms, until SIGTERM (exit 0, its last
// batch committed) or a failure.
// Keys: name, generation, endpoint, projections, parent (esd's pid: the
// worker ends with it), event-cpu-ms, start-cpu-ms, memory.
#pragma once

namespace esd {

int projection_worker_main(int argc, char** argv);

}  // namespace esd

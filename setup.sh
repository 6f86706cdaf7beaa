#!/usr/bin/env bash
# Installs the packages, builds, installs es and esd (with their man pages
# and completions) and starts esd on the default data directory, listening
# on tcp://127.0.0.1:7150 (loopback only).
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo cmake --install build >/dev/null
if es status >/dev/null 2>&1; then
  echo "esd is already running: $(es status -o text | head -1)"
  exit 0
fi
log=${TMPDIR:-/tmp}/esd.log
nohup esd >"$log" 2>&1 &
for _ in $(seq 50); do es status >/dev/null 2>&1 && break; sleep 0.1; done
es status -o text
echo "esd runs as pid $! (log: $log); stop it with: es stop"

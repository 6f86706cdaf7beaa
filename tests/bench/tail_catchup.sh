#!/usr/bin/env bash
# tests/bench/tail_catchup.sh ESD ES [EVENTS]
#
# How fast `es tail` replays history: starts a fresh esd (temp dir, free
# loopback port), preloads EVENTS events (default 1,000,000) of ~200 bytes of
# JSON spread over 1000 streams, then times
#   es tail --all --from start --until-head > /dev/null
# three times (each run's seconds and events/s, then the best), checks the
# count once with `... | wc -l`, stops esd with `es stop` and removes the temp
# dir. Figures go to stdout, progress to stderr. Every wait has a timeout.
# Exit status: 0 when every step ran and the count matched. See README.md.
set -euo pipefail

usage() {
  echo "usage: $0 ESD ES [EVENTS]" >&2
  exit 2
}
[[ $# -ge 2 && $# -le 3 ]] || usage
ESD=$1
ES=$2
EVENTS=${3:-1000000}
[[ -x $ESD ]] || { echo "cannot execute esd: $ESD" >&2; exit 2; }
[[ -x $ES ]] || { echo "cannot execute es: $ES" >&2; exit 2; }
[[ $EVENTS =~ ^[1-9][0-9]*$ ]] || { echo "EVENTS must be a number above 0" >&2; exit 2; }

readonly BATCH=10000        # NDJSON lines per `es append` process
readonly STREAMS=1000       # load-0 .. load-999, round-robin
readonly RUNS=3             # timed replays
readonly APPEND_TIMEOUT=120 # s, per batch of BATCH events
readonly TAIL_TIMEOUT=900   # s, per replay (1M events should take far less)

log() { echo "[tail_catchup] $*" >&2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tail-catchup-XXXXXX")
ESD_PID=
ENDPOINT=

es_cmd() { "$ES" -s "$ENDPOINT" "$@"; }

# Stops esd: `es stop` first (a graceful stop the node confirms), then a
# bounded wait for the process; SIGTERM, then SIGKILL if it lingers.
stop_esd() {
  [[ -n $ESD_PID ]] || return 0
  timeout 35 "$ES" -s "$ENDPOINT" --timeout 30 stop >/dev/null 2>&1 || log "es stop failed"
  local i
  for ((i = 0; i < 300; i++)); do  # 30 s
    kill -0 "$ESD_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$ESD_PID" 2>/dev/null; then
    log "esd still running after es stop: SIGTERM"
    kill -TERM "$ESD_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do  # 10 s
      kill -0 "$ESD_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$ESD_PID" 2>/dev/null || true
  fi
  wait "$ESD_PID" 2>/dev/null || true  # it has exited (or been killed): no real wait
  ESD_PID=
}

cleanup() {
  local rc=$?
  stop_esd
  if [[ $rc -ne 0 && -f $WORK/esd.log ]]; then
    log "failed; the last lines of esd.log:"
    tail -n 20 "$WORK/esd.log" >&2 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port: the kernel picks one (python3), else a random one;
# esd failing to bind makes start_esd try again.
free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    echo $((20000 + RANDOM % 40000))
  fi
}

# Starts esd and waits until it answers (5 attempts of up to 15 s each).
start_esd() {
  local attempt i
  mkdir -p "$WORK/data"
  for ((attempt = 0; attempt < 5; attempt++)); do
    ENDPOINT="tcp://127.0.0.1:$(free_port)"
    "$ESD" --data "$WORK/data" --listen "$ENDPOINT" --publish 'tcp://127.0.0.1:*' \
      >>"$WORK/esd.log" 2>&1 &
    ESD_PID=$!
    for ((i = 0; i < 150; i++)); do  # 15 s
      if ! kill -0 "$ESD_PID" 2>/dev/null; then
        break  # exited: port taken?
      fi
      if timeout 5 "$ES" -s "$ENDPOINT" --timeout 1 status >/dev/null 2>&1; then
        return 0
      fi
      sleep 0.1
    done
    if kill -0 "$ESD_PID" 2>/dev/null; then
      log "esd did not answer within 15 s"
      kill -KILL "$ESD_PID" 2>/dev/null || true
      wait "$ESD_PID" 2>/dev/null || true
      ESD_PID=
      return 1
    fi
    wait "$ESD_PID" 2>/dev/null || true
    ESD_PID=
    log "esd exited at start (port taken?), retrying"
  done
  log "esd did not start in 5 attempts"
  return 1
}

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }

# NDJSON lines FIRST .. FIRST+COUNT-1: event i goes to load-(i % STREAMS); its
# data is the peers' 200-byte order body (sequence number first), padded with
# x to exactly 200 bytes, so es's catch-up reads the same sizes as esbench W6.
gen_batch() {
  awk -v first="$1" -v count="$2" -v streams="$STREAMS" 'BEGIN {
    for (i = first; i < first + count; i++) {
      d = sprintf("{\"n\":\"%012d\",\"orderId\":\"ord-%08d\",\"customer\":\"cust-%04d\",\"items\":[{\"sku\":\"apple\",\"qty\":3,\"price\":0.5},{\"sku\":\"pear\",\"qty\":2,\"price\":0.75}],\"total\":3.0,\"note\":\"", i, i % 100000000, i % 10000)
      pad = 198 - length(d)
      while (pad-- > 0) d = d "x"
      printf "{\"stream\":\"load-%d\",\"type\":\"OrderPlaced\",\"data\":%s\"}}\n", i % streams, d
    }
  }'
}

log "work dir $WORK"
start_esd
log "esd pid $ESD_PID on $ENDPOINT"

# Preload: one `es append` per BATCH lines (its own requests: 1000 events each).
t0=$(now)
for ((first = 0; first < EVENTS; first += BATCH)); do
  count=$((EVENTS - first < BATCH ? EVENTS - first : BATCH))
  gen_batch "$first" "$count" | timeout "$APPEND_TIMEOUT" "$ES" -s "$ENDPOINT" append >/dev/null
  if ((first % 100000 == 0)); then log "preloaded $first / $EVENTS"; fi
done
t1=$(now)
preload_s=$(elapsed "$t0" "$t1")
head=$(timeout 10 "$ES" -s "$ENDPOINT" status | sed -n 's/.*"head":\([0-9]*\).*/\1/p')
if [[ $head != "$EVENTS" ]]; then
  log "the store's head is '$head' after the preload, expected $EVENTS"
  exit 1
fi

echo "tail_catchup: $EVENTS events (~200-byte JSON data, $STREAMS streams), esd $ESD, es $ES"
echo "preload: ${preload_s} s, $(rate "$EVENTS" "$preload_s") ev/s ($BATCH lines per es append)"

best=
for ((run = 1; run <= RUNS; run++)); do
  t0=$(now)
  timeout "$TAIL_TIMEOUT" "$ES" -s "$ENDPOINT" tail --all --from start --until-head >/dev/null
  t1=$(now)
  s=$(elapsed "$t0" "$t1")
  echo "run $run: ${s} s, $(rate "$EVENTS" "$s") ev/s"
  if [[ -z $best ]] || awk -v a="$s" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$s; fi
done
echo "best: ${best} s, $(rate "$EVENTS" "$best") ev/s"

lines=$(timeout "$TAIL_TIMEOUT" "$ES" -s "$ENDPOINT" tail --all --from start --until-head | wc -l)
if [[ $lines -eq $EVENTS ]]; then
  echo "count: $lines lines (expected $EVENTS): ok"
else
  echo "count: $lines lines (expected $EVENTS): MISMATCH"
  exit 1
fi

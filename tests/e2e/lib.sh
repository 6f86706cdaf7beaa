# tests/e2e/lib.sh: helpers shared by the end-to-end tests (sourced).
#
#   source "$(dirname "$0")/lib.sh"
#   e2e_init "$@"              # ESD=$1 ES=$2, TMP=$(mktemp -d), cleanup on EXIT
#   start_esd DIR [ARGS...]    # sets ESD_PID, ES_SERVER (exported), ESD_LOG
#   stop_esd [PID]             # `es stop`, waits; sets ESD_EXIT
#   es ARGS...                 # the es binary (talks to $ES_SERVER); a
#                              # shell function: background "$ES" instead
#   check "what"               # prints what is checked next
#   fail "message"             # prints FAIL and exits 1
#   assert_eq ACTUAL EXPECTED "what"
#   assert_exit CODE CMD...    # runs CMD; its stdout/stderr in $OUT/$ERR
#   wait_for SECONDS "what" CMD...   # polls CMD every 0.1 s
#   wait_pid PID SECONDS       # waits for a child to exit; sets WAIT_RC
#   bg_track PID               # a background process to kill on exit
#   E2E_AT_EXIT+=(CMD)         # a command to run at exit, after the processes stop
#   pick_port                  # prints a loopback port nothing listens on
#   pick_ports N               # prints N such ports, each with its next one
#                              # (a publisher) apart from the others
#   new_uuid                   # prints a random UUID
#
# Every server runs on loopback, on a port checked to be free (a bind
# failure is retried on another port), in the test's own temp dir, and is
# stopped on exit; every wait is bounded.

set -euo pipefail

E2E_NAME=$(basename "$0" .sh)
ESD_PIDS=()
declare -A ESD_SERVERS=()
BG_PIDS=()
E2E_AT_EXIT=()  # commands run at exit once every process is stopped (say, umount)
ESD_COUNT=0
OUT=""
ERR=""

e2e_init() {
  if [ $# -lt 2 ]; then
    echo "usage: $0 ESD_BINARY ES_BINARY" >&2
    exit 2
  fi
  ESD=$1
  ES=$2
  [ -x "$ESD" ] || { echo "FAIL: $ESD is not an executable" >&2; exit 1; }
  [ -x "$ES" ] || { echo "FAIL: $ES is not an executable" >&2; exit 1; }
  command -v jq >/dev/null || { echo "FAIL: jq is needed" >&2; exit 1; }
  unset ES_SERVER ESD_DATA
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/es-e2e-$E2E_NAME.XXXXXX")
  trap e2e_cleanup EXIT
  echo "== $E2E_NAME (temp dir $TMP)"
}

e2e_cleanup() {
  local rc=$?
  set +e
  local pid i
  for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${ESD_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || continue
    [ -n "${ESD_SERVERS[$pid]:-}" ] && timeout 5 "$ES" -s "${ESD_SERVERS[$pid]}" --timeout 3 stop >/dev/null 2>&1
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  for pid in "${BG_PIDS[@]}"; do
    for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  local cmd
  for cmd in "${E2E_AT_EXIT[@]}"; do $cmd; done
  if [ "$rc" -ne 0 ]; then
    local log
    for log in "$TMP"/esd.*.log; do
      [ -f "$log" ] || continue
      echo "--- $log (last 20 lines)" >&2
      tail -n 20 "$log" >&2
    done
    echo "FAIL $E2E_NAME (exit $rc)" >&2
  else
    echo "PASS $E2E_NAME"
  fi
  rm -rf "$TMP"
  exit "$rc"
}

check() { echo "-- $*"; }

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

es() { "$ES" "$@"; }

new_uuid() { cat /proc/sys/kernel/random/uuid; }

assert_eq() {
  local actual=$1 expected=$2 what=${3:-value}
  if [ "$actual" != "$expected" ]; then
    fail "$what: expected [$expected], got [$actual]"
  fi
}

# assert_exit CODE CMD...: runs CMD with stdin from /dev/null unless the
# caller redirects; its stdout and stderr end up in $OUT and $ERR.
assert_exit() {
  local want=$1
  shift
  local got=0
  "$@" >"$TMP/assert.out" 2>"$TMP/assert.err" || got=$?
  OUT=$(cat "$TMP/assert.out")
  ERR=$(cat "$TMP/assert.err")
  if [ "$got" -ne "$want" ]; then
    fail "expected exit $want, got $got from: $*
  stdout: $(head -c 2000 "$TMP/assert.out")
  stderr: $(head -c 2000 "$TMP/assert.err")"
  fi
}

# assert_contains TEXT NEEDLE "what"
assert_contains() {
  case "$1" in
    *"$2"*) ;;
    *) fail "${3:-text} should contain [$2]: [$1]" ;;
  esac
}

wait_for() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  local tries=0
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    tries=$((tries + 1))
    if [ "$SECONDS" -ge "$deadline" ] || [ "$tries" -ge $((secs * 20)) ]; then
      fail "timed out after ${secs} s waiting for: $what"
    fi
    sleep 0.1
  done
}

# wait_pid PID SECONDS: waits for a child process to exit; WAIT_RC is its
# exit status.
wait_pid() {
  local pid=$1 secs=$2 i
  for i in $(seq 1 $((secs * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "process $pid did not exit within $secs s"
  WAIT_RC=0
  wait "$pid" 2>/dev/null || WAIT_RC=$?
}

bg_track() { BG_PIDS+=("$1"); }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port in 20000..32767 (below Linux's ephemeral range) with no listener.
pick_port() {
  local p i
  for i in $(seq 1 100); do
    p=$((20000 + RANDOM % 12768))
    if ! port_in_use "$p" && ! port_in_use $((p + 1)); then
      echo "$p"
      return 0
    fi
  done
  fail "found no free port"
}

# pick_ports N: N free ports for nodes started later, apart from each other
# with their publishers (port + 1): picking them one by one could give one
# node the port another one's publisher takes.
pick_ports() {
  local n=$1 got=() p q apart i
  for i in $(seq 1 200); do
    [ ${#got[@]} -ge "$n" ] && break
    p=$(pick_port)
    apart=1
    for q in "${got[@]}"; do
      if [ $((p - q)) -ge -1 ] && [ $((p - q)) -le 1 ]; then apart=0; fi
    done
    [ "$apart" = 1 ] && got+=("$p")
  done
  [ ${#got[@]} -ge "$n" ] || fail "found no $n free ports apart from each other"
  echo "${got[@]}"
}

# The address start_esd binds: loopback, unless a test runs in a network
# namespace of its own (security_netns.sh) and says otherwise.
ESD_HOST=${ES_TEST_HOST:-127.0.0.1}

# start_esd DIR [ARGS...]: starts esd on DIR, listening on a free loopback
# port (ESD_HOST's) and publishing on a free one, and waits (at most 15 s) until
# `es status` answers. Sets ESD_PID, ESD_LOG and exports ES_SERVER.
start_esd() {
  local dir=$1
  shift
  local attempt port i rc
  for attempt in $(seq 1 10); do
    port=$(pick_port)
    ESD_COUNT=$((ESD_COUNT + 1))
    ESD_LOG="$TMP/esd.$ESD_COUNT.log"
    "$ESD" --data "$dir" --listen "tcp://$ESD_HOST:$port" --publish "tcp://$ESD_HOST:*" "$@" 2>"$ESD_LOG" &
    ESD_PID=$!
    ESD_PIDS+=("$ESD_PID")
    ESD_SERVERS[$ESD_PID]="tcp://$ESD_HOST:$port"
    export ES_SERVER="tcp://$ESD_HOST:$port"
    for i in $(seq 1 150); do
      if ! kill -0 "$ESD_PID" 2>/dev/null; then
        rc=0
        wait "$ESD_PID" || rc=$?
        if grep -q "cannot listen\|cannot publish" "$ESD_LOG"; then
          echo "(port $port was taken; trying another)"
          continue 2
        fi
        fail "esd exited with $rc at start: $(cat "$ESD_LOG")"
      fi
      if "$ES" --timeout 1 status >/dev/null 2>&1; then return 0; fi
      sleep 0.1
    done
    fail "esd did not answer es status within 15 s: $(cat "$ESD_LOG")"
  done
  fail "could not bind esd to a free port in 10 attempts"
}

# stop_esd [PID]: `es stop` to that esd (default $ESD_PID), then waits for
# it to exit. ESD_EXIT is its exit status; STOP_OUT what es stop printed.
stop_esd() {
  local pid=${1:-$ESD_PID}
  local server=${ESD_SERVERS[$pid]}
  STOP_OUT=$(timeout 15 "$ES" -s "$server" stop) || fail "es stop failed (exit $?)"
  wait_pid "$pid" 15
  ESD_EXIT=$WAIT_RC
}

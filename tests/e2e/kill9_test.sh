#!/usr/bin/env bash
# tests/e2e/kill9_test.sh ESD ES ACK_LOAD: kill -9 under a 16-client load.
# ack_load logs every acknowledged event (id, position) and sends an
# unanswered append again, same ids, until it is answered; esd is killed
# with SIGKILL at random moments and restarted on the same directory and
# endpoint, KILL9_CYCLES times (default 4; the closing note of issue 10
# reports a 200-cycle run). Then: every acknowledged event at its position,
# positions 1..head and every stream's versions gapless, every id once
# (a retry wrote nothing twice), `es verify` passes. The journal is small
# (1 MiB) so that the writers wrap it and wait for LMDB in every cycle.
source "$(dirname "$0")/lib.sh"
e2e_init "$1" "$2"
ACK_LOAD=$3
cycles=${KILL9_CYCLES:-4}
data=$TMP/data
seed=${KILL9_SEED:-$RANDOM}
RANDOM=$seed
echo "seed $seed (KILL9_SEED replays it), $cycles cycles"

start_esd "$data" --journal-size 1M
endpoint=$ES_SERVER
restart() {
  ESD_COUNT=$((ESD_COUNT + 1))
  ESD_LOG="$TMP/esd.$ESD_COUNT.log"
  "$ESD" --data "$data" --listen "$endpoint" --publish 'tcp://127.0.0.1:*' 2>"$ESD_LOG" &
  ESD_PID=$!
  ESD_PIDS+=("$ESD_PID")
  ESD_SERVERS[$ESD_PID]=$endpoint
  wait_for 15 "esd to answer after restart" "$ES" --timeout 1 status
}

check "16 clients append; esd is killed with SIGKILL $cycles times"
"$ACK_LOAD" load --server "$endpoint" --dir "$TMP/acks" --clients 16 \
  --seconds $((cycles * 4 + 10)) --max "${KILL9_MAX_EVENTS:-2000000}" 2>"$TMP/load.err" &
load=$!
bg_track "$load"
for c in $(seq 1 "$cycles"); do
  sleep "$((1 + RANDOM % 2)).$((RANDOM % 10))"
  before=$(cat "$TMP"/acks/acked.* 2>/dev/null | wc -l)
  { kill -KILL "$ESD_PID"; wait_pid "$ESD_PID" 10; } 2>/dev/null
  assert_eq "$WAIT_RC" 137 "esd exit status after SIGKILL"
  restart
  grep -o "recovered [0-9]* events.*" "$ESD_LOG" | sed "s/^/   cycle $c: $before acks; /" || echo "   cycle $c: $before acks; nothing to recover"
done
kill -TERM "$load"  # it finishes the appends in flight, then exits
wait_pid "$load" 60
[ "$WAIT_RC" -eq 0 ] || fail "ack_load failed: $(cat "$TMP/load.err")"

check "every acknowledged event is at its position; positions, versions and ids hold"
"$ACK_LOAD" check --server "$endpoint" --dir "$TMP/acks" || fail "the log does not hold what was acknowledged"
check "es verify recomputes the chain"
es verify >/dev/null || fail "es verify failed"
stop_esd
assert_eq "$ESD_EXIT" 0 "esd exit status"
check "offline, the same"
"$ES" verify --data "$data" >/dev/null || fail "es verify --data failed"

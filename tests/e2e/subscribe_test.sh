#!/usr/bin/env bash
# tests/e2e/subscribe_test.sh ESD ES [EVENTS]
#
# Subscriptions deliver every committed event exactly once, in order,
# through faults. One esd with a publisher high-water mark of 2 frames and
# 200 ms heartbeats takes EVENTS events (default 200,000) in idempotent
# batches, while:
#   - s1 (--all --from start) is paused with SIGSTOP for 5 s, then SIGCONT;
#   - s2 (--all --from start) joins in the middle of the load;
#   - f1 (--category c1) and f2 (--type TypeB) are filtered, and paused too;
#   - named (--name n1) is stopped with SIGTERM and restarted, again and again;
#   - esd is killed with -9 and restarted (on a new publisher port) mid-load.
# At the end each subscriber's positions must be exactly the committed ones
# that match it, in order, with no duplicate; the paused ones must show
# repaired gaps (--stats), and the others a reconnect.
# Then: a crash after commit but before publish (ESD_FAILPOINT) is still
# delivered; a named subscription killed with -9 loses nothing.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EVENTS=${3:-200000}
BATCH=2000
BATCHES=$((EVENTS / BATCH))
DATA=$TMP/data
PORT=$(pick_port)
SERVER=tcp://127.0.0.1:$PORT
export ES_SERVER=$SERVER

# esd on the fixed request port; the publisher takes a free port each time.
start_node() {
  ESD_COUNT=$((ESD_COUNT + 1))
  ESD_LOG="$TMP/esd.$ESD_COUNT.log"
  "$ESD" --data "$DATA" --listen "$SERVER" --publish 'tcp://127.0.0.1:*' \
    --publish-hwm 2 --heartbeat 200 "$@" 2>"$ESD_LOG" &
  ESD_PID=$!
  ESD_PIDS+=("$ESD_PID")
  ESD_SERVERS[$ESD_PID]=$SERVER
  wait_for 15 "esd to answer" "$ES" --timeout 1 status
}

# Batch files with fixed ids, so that a batch resent after a crash is an
# idempotent retry. Streams c0-0..c3-9, types TypeA/TypeB.
check "making $BATCHES batches of $BATCH events"
mkdir -p "$TMP/batches"
pad=$(printf '%0100d' 0)
awk -v batches="$BATCHES" -v size="$BATCH" -v dir="$TMP/batches" -v pad="$pad" 'BEGIN {
  for (b = 1; b <= batches; b++) {
    f = sprintf("%s/%05d.ndjson", dir, b)
    for (i = 0; i < size; i++) {
      n = (b - 1) * size + i
      printf("{\"stream\":\"c%d-%d\",\"id\":\"%08x-0000-4000-8000-%012x\",\"type\":\"Type%s\",\"data\":{\"n\":%d,\"pad\":\"%s\"}}\n",
             n % 4, n % 10, b, i, (n % 3 == 0) ? "B" : "A", n, pad) > f
    }
    close(f)
  }
}'

# Appends every batch, retrying through the daemon's restart (bounded).
load() {
  local f tries
  for f in "$TMP"/batches/*.ndjson; do
    tries=0
    until "$ES" --timeout 3 append --atomic <"$f" >/dev/null 2>>"$TMP/load.err"; do
      tries=$((tries + 1))
      [ "$tries" -lt 60 ] || { echo "batch $f failed 60 times" >&2; return 1; }
      sleep 0.2
    done
    echo "$f" >>"$TMP/load.done"
    sleep 0.1  # spread over seconds, so that the faults below fall inside it
  done
}

batches_done() { [ -f "$TMP/load.done" ] && wc -l <"$TMP/load.done" || echo 0; }
batches_at_least() { [ "$(batches_done)" -ge "$1" ]; }
wait_batches() { wait_for "$2" "$1 batches appended" batches_at_least "$1"; }

tail_bg() {  # tail_bg NAME ARGS...: es tail --stats ARGS > NAME.out
  local name=$1
  shift
  "$ES" tail --stats "$@" >>"$TMP/$name.out" 2>>"$TMP/$name.err" &
  bg_track $!
  eval "PID_$name=$!"
}

start_node
check "subscribers s1, f1, f2 and named start before the load"
tail_bg s1 --all --from start
tail_bg f1 --category c1 --from start
tail_bg f2 --type TypeB --from start
tail_bg named --all --from start --name n1
sleep 0.5

load &
LOAD_PID=$!
bg_track $LOAD_PID

wait_batches $((BATCHES / 10)) 120
check "pausing s1, f1 and f2 (SIGSTOP) for 5 s and 60% of the load"
kill -STOP "$PID_s1" "$PID_f1" "$PID_f2"
named_runs=1
for i in 1 2 3 4 5; do
  sleep 1
  kill -TERM "$PID_named"
  wait_pid "$PID_named" 20
  assert_eq "$WAIT_RC" 0 "named subscription's exit on SIGTERM (run $named_runs)"
  named_runs=$((named_runs + 1))
  tail_bg named --all --from start --name n1
done
wait_batches $((BATCHES * 7 / 10)) 120
kill -CONT "$PID_s1" "$PID_f1" "$PID_f2"

check "s2 joins mid-load"
tail_bg s2 --all --from start

wait_batches $((BATCHES * 8 / 10)) 120
check "kill -9 of esd mid-load, then restart"
kill -KILL "$ESD_PID"
wait "$ESD_PID" 2>/dev/null || true
sleep 1
start_node

wait_pid "$LOAD_PID" 300
assert_eq "$WAIT_RC" 0 "the load's exit status"
HEAD=$("$ES" status | jq .head)
check "the load is in: head $HEAD"
[ "$HEAD" -ge "$EVENTS" ] || fail "head $HEAD is below the $EVENTS events appended"
"$ES" read --all | jq -r .position >"$TMP/all.pos"
seq 1 "$HEAD" | cmp -s - "$TMP/all.pos" || fail "the log's positions are not 1..$HEAD"
"$ES" read --all --category c1 | jq -r .position >"$TMP/f1.want"
"$ES" read --all --type TypeB | jq -r .position >"$TMP/f2.want"

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
lines_at_least() { [ "$(lines "$1")" -ge "$2" ]; }
for s in s1 s2 f1 f2; do
  want=$HEAD
  [ "$s" = f1 ] && want=$(lines "$TMP/f1.want")
  [ "$s" = f2 ] && want=$(lines "$TMP/f2.want")
  wait_for 120 "$s to print $want events" lines_at_least "$TMP/$s.out" "$want"
done
check "the named subscription's last run ends at the head"
kill -TERM "$PID_named"
wait_pid "$PID_named" 20
assert_eq "$WAIT_RC" 0 "named subscription's exit"
assert_exit 0 "$ES" tail --all --name n1 --until-head --stats
echo "$OUT" >>"$TMP/named.out"

sleep 1  # anything extra (a duplicate) would arrive now
for s in s1 s2 f1 f2; do
  kill -TERM "$(eval echo "\$PID_$s")"
  wait_pid "$(eval echo "\$PID_$s")" 20
  assert_eq "$WAIT_RC" 0 "$s's exit on SIGTERM"
done

check "every subscriber got exactly the committed events, in order"
jq -r .position "$TMP/s1.out" | cmp -s - "$TMP/all.pos" || fail "s1's positions differ from 1..$HEAD"
jq -r .position "$TMP/f1.out" | cmp -s - "$TMP/f1.want" || fail "f1 (--category c1) differs"
jq -r .position "$TMP/f2.out" | cmp -s - "$TMP/f2.want" || fail "f2 (--type TypeB) differs"
jq -r .position "$TMP/named.out" | cmp -s - "$TMP/all.pos" ||
  fail "the named subscription over $named_runs runs differs from 1..$HEAD"
# s2 joined from the start: the same whole log.
jq -r .position "$TMP/s2.out" | cmp -s - "$TMP/all.pos" || fail "s2's positions differ"
jq -r '.id' "$TMP/s1.out" | sort | uniq -d | head -1 | grep -q . && fail "s1 has a duplicate id"

check "the fault paths ran: gaps repaired by the paused ones, reconnects by all"
stat_of() { grep '^{"delivered"' "$TMP/$1.err" | tail -1 | jq -r ".$2"; }
for s in s1 f1 f2; do
  gaps=$(stat_of "$s" gaps)
  [ "$gaps" -gt 0 ] || fail "$s repaired no gap: the pause caused no drop ($(cat "$TMP/$s.err"))"
  echo "$s: $(grep '^{"delivered"' "$TMP/$s.err" | tail -1)"
done
for s in s1 s2 f1 f2; do
  [ "$(stat_of "$s" reconnects)" -ge 1 ] || fail "$s did not reconnect after the kill -9"
done
grep -q "resubscribed\|reconnected" "$TMP/s1.err" || fail "s1 did not report finding the node again"

# A crash after commit but before publish: the event is stored, never
# published, and the client got no answer. Subscribers still receive it.
check "a crash after commit, before publish, is still delivered"
stop_esd
before=$HEAD
ESD_FAILPOINT=exit-before-publish:3 start_node
tail_bg c1 --all --from $((before + 1))
sleep 0.5
for i in 1 2 3; do
  "$ES" --timeout 2 append crash-1 -t T -d "{\"i\":$i}" >/dev/null 2>&1 || true
done
wait_pid "$ESD_PID" 10
assert_eq "$WAIT_RC" 99 "esd's exit at the failpoint"
start_node
assert_exit 0 "$ES" read crash-1
assert_eq "$(echo "$OUT" | jq -s length)" 3 "events of crash-1 stored"
"$ES" append crash-1 -t T -d '{"i":4}' >/dev/null
wait_for 15 "c1 to print 4 events" lines_at_least "$TMP/c1.out" 4
sleep 0.5
assert_eq "$(jq -r .position "$TMP/c1.out" | tr '\n' ' ')" \
  "$((before + 1)) $((before + 2)) $((before + 3)) $((before + 4)) " "positions c1 received"

check "a clean stop (es stop) and a restart: the subscriber waits and goes on"
stop_esd
assert_eq "$ESD_EXIT" 0 "esd's exit after es stop"
sleep 1
start_node
"$ES" append crash-1 -t T -d '{"i":5}' >/dev/null
wait_for 15 "c1 to print 5 events" lines_at_least "$TMP/c1.out" 5
grep -q "the node is stopping" "$TMP/c1.err" || fail "c1 did not see the node stopping: $(cat "$TMP/c1.err")"
assert_eq "$(jq -r .position "$TMP/c1.out" | tail -1)" $((before + 5)) "c1's last position"

# A named subscription killed with -9 loses nothing; what it printed after
# its last checkpoint is printed again (at least once), never skipped.
check "a named subscription killed with -9 resumes without loss"
HEAD=$("$ES" status | jq .head)
tail_bg k9 --all --from start --name k9 --count $((HEAD / 2))
wait_pid "$PID_k9" 60
tail_bg k9 --all --name k9
sleep 0.5
kill -KILL "$PID_k9"
wait "$PID_k9" 2>/dev/null || true
assert_exit 0 "$ES" tail --all --name k9 --until-head
echo "$OUT" >>"$TMP/k9.out"
jq -r .position "$TMP/k9.out" | sort -n | uniq | cmp -s - <(seq 1 "$HEAD") ||
  fail "the named subscription killed with -9 lost events"

#!/usr/bin/env bash
# tests/e2e/group_test.sh ESD ES
#
# Competing consumers (es tail --group): members split the streams between
# them, each stream's events in order to one member at a time.
#   1. Members a and b start; c joins mid-load; a leaves (SIGTERM); d joins.
#      Every event is delivered exactly once over all members (hand-overs
#      are clean), every member's events of a stream are in version order,
#      and every member that stayed got a share.
#   2. A member killed with -9 loses its slots when its lease runs out; the
#      other member takes them over from their checkpoints: nothing is lost.
#   3. A member paused past its lease delivers nothing of the slots it lost
#      once it runs again.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
start_esd "$TMP/data" --heartbeat 200

BATCHES=40
BATCH=1000
# Appends BATCHES batches over 40 streams s-0..s-39, paced so that members
# can join and leave in the middle.
load() {
  local b
  for b in $(seq 1 "$BATCHES"); do
    awk -v b="$b" -v size="$BATCH" 'BEGIN {
      for (i = 0; i < size; i++) {
        n = (b - 1) * size + i
        printf("{\"stream\":\"s-%d\",\"type\":\"T\",\"data\":{\"n\":%d}}\n", n % 40, n)
      }
    }' | "$ES" append >/dev/null || return 1
    echo "$b" >>"$TMP/load.done"
    sleep 0.15
  done
}
batches_at_least() { [ -f "$TMP/load.done" ] && [ "$(wc -l <"$TMP/load.done")" -ge "$1" ]; }

member() {  # member NAME GROUP: es tail --group GROUP > NAME.out
  "$ES" tail --group "$2" --from start --stats >"$TMP/$1.out" 2>"$TMP/$1.err" &
  bg_track $!
  eval "PID_$1=$!"
}
stop_member() {  # stop_member NAME: SIGTERM, expects exit 0
  local pid
  pid=$(eval echo "\$PID_$1")
  kill -TERM "$pid"
  wait_pid "$pid" 20
  assert_eq "$WAIT_RC" 0 "member $1's exit on SIGTERM"
}
delivered() { cat "$@" 2>/dev/null | wc -l; }
delivered_at_least() {
  local want=$1
  shift
  [ "$(delivered "$@")" -ge "$want" ]
}

check "members a and b; c joins, a leaves, d joins, during the load"
member a g
member b g
sleep 1
load &
LOAD_PID=$!
bg_track $LOAD_PID
wait_for 60 "10 batches" batches_at_least 10
member c g
wait_for 60 "20 batches" batches_at_least 20
stop_member a
wait_for 60 "30 batches" batches_at_least 30
member d g
wait_pid "$LOAD_PID" 120
assert_eq "$WAIT_RC" 0 "the load's exit status"
HEAD=$("$ES" status | jq .head)
assert_eq "$HEAD" $((BATCHES * BATCH)) "head after the load"
OUTS=("$TMP/a.out" "$TMP/b.out" "$TMP/c.out" "$TMP/d.out")
wait_for 60 "the members to deliver $HEAD events" delivered_at_least "$HEAD" "${OUTS[@]}"
sleep 1.5  # a duplicate would show up now
for m in b c d; do stop_member "$m"; done

check "exactly once over the members, in order per stream"
cat "${OUTS[@]}" | jq -r .position | sort -n >"$TMP/union"
seq 1 "$HEAD" | cmp -s - "$TMP/union" ||
  fail "the members' events are not exactly 1..$HEAD ($(wc -l <"$TMP/union") lines, $(uniq -d "$TMP/union" | wc -l) duplicated)"
for m in a b c d; do
  n=$(wc -l <"$TMP/$m.out")
  [ "$n" -gt 0 ] || fail "member $m got no event"
  # Within one member, each stream's versions only go up.
  bad=$(jq -r '"\(.stream) \(.version)"' "$TMP/$m.out" |
    awk '{ if (($1 in last) && $2 <= last[$1]) bad++; last[$1] = $2 } END { print bad + 0 }')
  assert_eq "$bad" 0 "member $m: events out of version order"
  echo "member $m: $n events, $(jq -r .stream "$TMP/$m.out" | sort -u | wc -l) streams"
done
grep -q "holds" "$TMP/b.err" || fail "member b reported no slots"

check "a member killed with -9: its slots move on when its lease runs out"
member e g2
member f g2
wait_for 30 "e and f to replay the log" delivered_at_least "$HEAD" "$TMP/e.out" "$TMP/f.out"
kill -KILL "$PID_e"
wait "$PID_e" 2>/dev/null || true
"$ES" append s-1 -t T -d '{"after":"kill"}' >/dev/null
"$ES" append s-2 -t T -d '{"after":"kill"}' >/dev/null
"$ES" append s-3 -t T -d '{"after":"kill"}' >/dev/null
HEAD=$((HEAD + 3))
union_covers() { cat "$TMP/e.out" "$TMP/f.out" | jq -r .position | sort -nu | cmp -s - <(seq 1 "$HEAD"); }
wait_for 30 "f to take over e's slots" union_covers
stop_member f

check "a member paused past its lease delivers nothing of the slots it lost"
member p g3
member q g3
wait_for 30 "p and q to replay the log" delivered_at_least "$HEAD" "$TMP/p.out" "$TMP/q.out"
kill -STOP "$PID_p"
sleep 7  # past the 5 s lease: q takes every slot
for i in $(seq 1 40); do echo "{\"stream\":\"s-$i\",\"type\":\"T\",\"data\":{\"paused\":$i}}"; done |
  "$ES" append >/dev/null
HEAD=$((HEAD + 40))
wait_for 30 "q to deliver all 40 new events" delivered_at_least $((HEAD)) "$TMP/p.out" "$TMP/q.out"
before_p=$(wc -l <"$TMP/p.out")
kill -CONT "$PID_p"
sleep 2
assert_eq "$(wc -l <"$TMP/p.out")" "$before_p" "events p printed after it was resumed"
assert_eq "$(jq -r .position "$TMP/q.out" | tail -40 | tr '\n' ' ')" \
  "$(seq $((HEAD - 39)) "$HEAD" | tr '\n' ' ')" "q's last 40 positions"
stop_member p
stop_member q

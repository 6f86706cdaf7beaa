#!/usr/bin/env bash
# tests/e2e/lifecycle_test.sh ESD ES: stream deletion and retention through
# the real binaries, with a live subscriber, a hosted projection and a
# replica attached: soft delete, hard delete, max_count, truncate_before and
# max_age each read the same on the primary, the replica and a replica made
# afterwards from the start; the subscriber sees each change once, in
# order; the projection is rebuilt without a deleted stream, on the primary
# and on a read node that reads it; `es verify` passes and gives one digest
# on every node.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

start_esd "$TMP/p" --heartbeat 200
P=$ES_SERVER
PID_P=$ESD_PID
start_esd "$TMP/r" --role replica --follow "$P" --heartbeat 200
R=$ES_SERVER
start_esd "$TMP/rn" --project-from "$P" --heartbeat 200
RN=$ES_SERVER
export ES_SERVER=$P

append() { "$ES" append "$1" --type "$2" --data "$3" >/dev/null || fail "append to $1"; }
head_of() { "$ES" -s "$1" status | jq .head; }
caught_up() { [ "$(head_of "$R")" = "$(head_of "$P")" ]; }
# versions SERVER STREAM: the versions a read shows, on one line.
versions() { "$ES" -s "$1" read "$2" | jq -r .version | paste -sd' '; }
both_read() {  # both_read STREAM EXPECTED: on the primary and the replica
  wait_for 10 "the replica to catch up" caught_up
  assert_eq "$(versions "$P" "$1")" "$2" "$1 on the primary"
  assert_eq "$(versions "$R" "$1")" "$2" "$1 on the replica"
}

cat >"$TMP/per-stream.jq" <<'JQ'
def init: 0;
def when: .state + 1;
JQ
assert_exit 0 "$ES" project add per-stream "$TMP/per-stream.jq"
assert_exit 0 "$ES" -s "$RN" project add per-stream "$TMP/per-stream.jq"
"$ES" tail --all --from start >"$TMP/live.out" 2>"$TMP/live.err" &
TAIL_PID=$!
bg_track "$TAIL_PID"

for i in 1 2 3; do append user-3 Registered "{\"email\":\"grace$i@example.com\"}"; done
append user-1 Registered '{"email":"ada@example.com"}'
append user-1 Renamed '{"name":"Ada"}'
for i in 1 2 3 4 5; do append log-a Line "{\"n\":$i}"; done
projection_has() {
  [ "$("$ES" state per-stream "$1" 2>/dev/null | jq -c .state)" = "$2" ]
}
wait_for 10 "the projection to count user-3" projection_has user-3 3
rn_projection_has() { ES_SERVER=$RN projection_has "$@"; }
wait_for 10 "the read node's projection to count user-3" rn_projection_has user-3 3

check "es delete: the stream reads as gone everywhere, at once"
assert_exit 0 "$ES" delete user-3
assert_eq "$(jq -r '.stream + " " + .deleted' <<<"$OUT")" "user-3 soft" "es delete's output"
assert_exit 4 "$ES" read user-3
assert_contains "$ERR" "stream user-3 was deleted" "the read's error"
wait_for 10 "the replica to catch up" caught_up
assert_exit 4 "$ES" -s "$R" read user-3
assert_eq "$("$ES" read --all | jq -r 'select(.stream == "user-3")' | wc -l)" 0 \
  "no user-3 event in a read of the log"
assert_eq "$("$ES" -s "$R" read --all | jq -r 'select(.stream == "user-3")' | wc -l)" 0 \
  "none on the replica either"
assert_eq "$("$ES" read '$$user-3' | jq -c '[.type, .data]')" '["$deleted",{"truncate_before":3}]' \
  "the deletion, recorded in \$\$user-3"
assert_exit 0 "$ES" streams
assert_eq "$(jq -r .stream <<<"$OUT" | grep -cx user-3)" 0 "es streams leaves it out"

check "the projection is rebuilt without the deleted stream"
projection_lacks() { "$ES" state per-stream user-3 >/dev/null 2>&1 && return 1; return 0; }
wait_for 20 "the projection to drop user-3" projection_lacks
wait_for 10 "the projection to keep user-1" projection_has user-1 2
rn_projection_lacks() { ES_SERVER=$RN projection_lacks; }
wait_for 20 "the read node's projection to drop user-3" rn_projection_lacks
wait_for 10 "the read node's projection to keep user-1" rn_projection_has user-1 2

check "a soft-deleted stream is written again from its next version"
append user-3 Registered '{"email":"grace.hopper@example.com"}'
both_read user-3 3

check "es delete --hard: never written again (exit 4), on the replica too"
assert_exit 0 "$ES" delete --hard user-3
assert_exit 4 "$ES" append user-3 --type Registered --data '{}'
assert_contains "$ERR" "deleted for good" "the append's error"
assert_exit 4 "$ES" read user-3
wait_for 10 "the replica to catch up" caught_up
assert_exit 4 "$ES" -s "$R" read user-3
assert_exit 4 "$ES" delete user-3
assert_exit 6 "$ES" -s "$R" delete user-1
assert_contains "$ERR" "primary" "a replica sends deletions to its primary"

check "es retention --max-count keeps the last N"
assert_exit 0 "$ES" retention log-a --max-count 2
assert_eq "$(jq -c '{stream, max_count}' <<<"$OUT")" '{"stream":"log-a","max_count":2}' "output"
both_read log-a "3 4"
append log-a Line '{"n":6}'
both_read log-a "4 5"
assert_exit 0 "$ES" retention log-a
assert_eq "$(jq -c . <<<"$OUT")" '{"stream":"log-a","max_count":2}' "es retention shows the rules"

check "es retention --truncate-before, and what is wrong is named"
assert_exit 0 "$ES" retention user-1 --truncate-before 1
both_read user-1 1
assert_exit 1 "$ES" retention user-1 --truncate-before 0
assert_contains "$ERR" "only moves forward" "lowering truncate_before"
assert_exit 2 "$ES" retention user-1 --max-age 3x
assert_contains "$ERR" "--max-age 3x" "a bad age"
assert_exit 2 "$ES" retention user-1 --max-count 0
assert_exit 1 "$ES" append '$$user-1' --type '$metadata' --data '{}'
assert_contains "$ERR" "es delete and es retention write it" "a direct write to \$\$user-1"

check "es retention --max-age hides events as they age"
# Two events 8 s old when the rule comes: hidden at once; a new one shows
# for 8 s (time enough to read it on both nodes, also under ASan, where
# each es takes over half a second to start).
append ages Tick '{}'
append ages Tick '{}'
sleep 8
assert_exit 0 "$ES" retention ages --max-age 8
both_read ages ""
append ages Tick '{}'
both_read ages 2

check "the live subscriber saw every event once, in order, deletions included"
wait_for 10 "the subscriber to reach the head" \
  bash -c "[ \"\$(tail -n1 '$TMP/live.out' | jq .position)\" = \"$(head_of "$P")\" ]"
assert_eq "$(jq .position "$TMP/live.out" | paste -sd' ')" "$(seq 1 "$(head_of "$P")" | paste -sd' ')" \
  "positions 1..head, no gap, no duplicate"
assert_eq "$(jq -r 'select(.stream | startswith("$$")) | .type' "$TMP/live.out" | paste -sd' ')" \
  '$deleted $tombstone $metadata $metadata $metadata' "the lifecycle events, live"

check "a replica made afterwards copies the holes: one digest on every node"
start_esd "$TMP/r2" --role replica --follow "$P"
R2=$ES_SERVER
export ES_SERVER=$P
r2_caught_up() { [ "$(head_of "$R2")" = "$(head_of "$P")" ]; }
wait_for 20 "the new replica to catch up" r2_caught_up
assert_eq "$(versions "$R2" log-a)" "4 5" "log-a on the new replica"
assert_exit 4 "$ES" -s "$R2" read user-3
digest() {
  assert_exit 0 "$ES" -s "$1" verify
  jq -c '{head, digest}' <<<"$OUT"
}
removed() { "$ES" -s "$1" verify | jq .removed; }
# Every node removes what the rules hide by itself (a second at most).
all_removed() {
  local n
  n=$(removed "$P")
  [ "$n" -ge 9 ] && [ "$(removed "$R")" = "$n" ] && [ "$(removed "$R2")" = "$n" ]
}
wait_for 10 "every node to remove the hidden events" all_removed
REMOVED=$(removed "$P")  # (the last "ages" event may age out after it)
assert_eq "$(digest "$R")" "$(digest "$P")" "the replica's digest"
assert_eq "$(digest "$R2")" "$(digest "$P")" "the new replica's digest"

check "es verify --data on the stopped primary passes across the holes"
kill "$TAIL_PID" 2>/dev/null
stop_esd "$PID_P"
assert_exit 0 "$ES" verify --data "$TMP/p"
[ "$(jq .removed <<<"$OUT")" -ge "$REMOVED" ] ||
  fail "holes counted offline: $(jq .removed <<<"$OUT"), fewer than the $REMOVED online"

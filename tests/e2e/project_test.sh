#!/usr/bin/env bash
# tests/e2e/project_test.sh ESD ES: projections hosted by a node.
#   - es project add: the states equal a fresh es replay, byte for byte;
#   - kill -9 of esd while a projection runs, restart: the stored states are exactly
#     those of the events up to the stored checkpoint (es replay --to it),
#     and the projection goes on to the head;
#   - a failing reducer stops the projection at that event, with jq's
#     message, keeping the states before it;
#   - es project reset with a changed file serves the old states until the
#     new build has caught up, then the new ones;
#   - stop, start, rm, list; es state --at.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EXAMPLE=$(cd "$(dirname "$0")/../../examples/orders" && pwd)
DATA=$TMP/data
start_esd "$DATA" --heartbeat 200
SERVER=$ES_SERVER

position_is_head() {
  local st
  st=$("$ES" project status "$1") || return 1
  [ "$(echo "$st" | jq '.position == .head and .status == "running"')" = true ]
}
# orders N FIRST: N OrderPlaced events over 50 products, ids from FIRST.
orders() {
  awk -v n="$1" -v first="$2" 'BEGIN {
    for (i = first; i < first + n; i++)
      printf("{\"stream\":\"order-%d\",\"type\":\"OrderPlaced\",\"data\":{\"product\":\"p%d\",\"quantity\":%d,\"unit_price\":0.25}}\n",
             i, i % 50, 1 + i % 4)
  }'
}

check "es project add: the states equal es replay"
assert_exit 0 env ES="$ES" "$EXAMPLE/place-orders.sh"
assert_exit 0 "$ES" project add totals "$EXAMPLE/totals.jq"
assert_eq "$(echo "$OUT" | jq -r .status)" running "status after add"
wait_for 20 "totals to reach the head" position_is_head totals
assert_exit 0 "$ES" state totals
assert_eq "$OUT" "$("$ES" replay "$EXAMPLE/totals.jq")" "es state totals vs es replay"
assert_exit 0 "$ES" state totals pear
assert_eq "$OUT" '{"key":"pear","state":{"quantity":3,"total":2.3}}' "es state totals pear"
assert_exit 4 "$ES" state totals kiwi
assert_exit 0 "$ES" state totals --at 2
assert_eq "$OUT" "$("$ES" replay "$EXAMPLE/totals.jq" --to 2)" "es state --at 2"
assert_exit 1 "$ES" project add totals "$EXAMPLE/totals.jq"
assert_contains "$ERR" "exists" "adding a name twice"

check "kill -9 while a projection runs: the stored states are those of the stored checkpoint"
# A slower copy of totals (a loop per event), so that it is behind the load
# when the node is killed.
sed 's/^def init: .*/&\ndef slow: reduce range(0; 150) as $i (.; .);/; s/| .total = \(.*\);$/| .total = \1 | slow;/' \
  "$EXAMPLE/totals.jq" >"$TMP/slow.jq"
grep -q "| slow;" "$TMP/slow.jq" || fail "slow.jq was not made: $(cat "$TMP/slow.jq")"
# The log first, then the projection: it is killed while it folds them,
# whatever the speed of the appends.
for b in $(seq 0 19); do
  orders 2000 $((1000 + b * 2000)) | "$ES" --timeout 60 append >/dev/null || fail "the load failed"
done
assert_exit 0 "$ES" project add slow "$TMP/slow.jq"
moving() { [ "$("$ES" project status slow | jq .position)" -gt 3000 ]; }
wait_for 60 "the projection to move" moving
kill -KILL "$ESD_PID"
wait "$ESD_PID" 2>/dev/null || true
start_esd "$DATA" --heartbeat 200
# Stopped at once, so that the stored states and checkpoint stay put.
assert_exit 0 "$ES" project stop slow
P=$(echo "$OUT" | jq .position)
HEAD=$("$ES" status | jq .head)
echo "checkpoint after the restart: $P (head $HEAD)"
[ "$P" -gt 5 ] || fail "the checkpoint did not survive the kill: $P"
[ "$P" -lt "$HEAD" ] || fail "the projection had caught up before the kill ($P of $HEAD)"
assert_exit 0 "$ES" state slow
assert_eq "$OUT" "$("$ES" replay "$TMP/slow.jq" --to "$P")" "states at checkpoint $P vs es replay --to $P"
assert_exit 0 "$ES" project start slow
wait_for 60 "slow to reach the head again" position_is_head slow
assert_exit 0 "$ES" state slow
assert_eq "$OUT" "$("$ES" replay "$TMP/slow.jq")" "states at the head vs es replay"
wait_for 20 "totals to reach the head" position_is_head totals
assert_exit 0 "$ES" state totals
assert_eq "$OUT" "$("$ES" replay "$EXAMPLE/totals.jq")" "totals after the kill vs es replay"
assert_exit 0 "$ES" project rm slow

check "a failing reducer stops the projection at that event"
cat >"$TMP/picky.jq" <<'JQ'
def from: {category: "order"};
def key: .data.product;
def init: 0;
def when: if .event.data.product == "p7" then error("p7 is not sold here") else .state + 1 end;
JQ
assert_exit 0 "$ES" project add picky "$TMP/picky.jq"
first_p7=$("$ES" read --all --category order | jq -r 'select(.data.product == "p7") | .position' | awk 'NR == 1')
failed() { [ "$("$ES" project status picky | jq -r .status)" = failed ]; }
wait_for 20 "picky to fail" failed
assert_exit 0 "$ES" project status picky
assert_eq "$(echo "$OUT" | jq .error_position)" "$first_p7" "the failing event's position"
assert_contains "$(echo "$OUT" | jq -r .error)" "p7 is not sold here" "jq's message in the status"
assert_eq "$(echo "$OUT" | jq .position)" $((first_p7 - 1)) "the checkpoint stops before it"
assert_exit 0 "$ES" state picky
assert_eq "$OUT" "$("$ES" replay "$TMP/picky.jq" --to $((first_p7 - 1)))" \
  "the states before the failing event"

check "es project reset with a changed file: old states until the new build caught up"
cat >"$TMP/counts.jq" <<'JQ'
def from: {category: "order", types: ["OrderPlaced"]};
def key: .data.product;
def init: {orders: 0};
# Slow on purpose (a loop per event), so that the rebuild takes seconds.
def when: .state | .orders = .orders + 1 | reduce range(0; 400) as $i (.; .);
JQ
before=$("$ES" state totals)
assert_exit 0 "$ES" project reset totals "$TMP/counts.jq"
assert_eq "$(echo "$OUT" | jq .rebuilding)" true "rebuilding after reset"
assert_eq "$("$ES" state totals)" "$before" "the old states answer during the rebuild"
swapped() { [ "$("$ES" project status totals | jq '.generation == 2 and (.rebuilding | not)')" = true ]; }
wait_for 60 "the new build to be swapped in" swapped
wait_for 20 "totals to reach the head" position_is_head totals
assert_exit 0 "$ES" state totals
assert_eq "$OUT" "$("$ES" replay "$TMP/counts.jq")" "the new states vs es replay of the new file"

check "built-in projections: hosted equals replayed"
for b in by-category by-type counts; do
  assert_exit 0 "$ES" project add "$b" "builtin:$b"
done
for b in by-category by-type counts; do
  wait_for 30 "$b to reach the head" position_is_head "$b"
  assert_exit 0 "$ES" state "$b"
  assert_eq "$OUT" "$("$ES" replay "builtin:$b")" "es state $b vs es replay builtin:$b"
done
assert_eq "$("$ES" state counts all | jq -c '.state | [.events, .streams]')" \
  "[$("$ES" status | jq .head),$("$ES" status | jq .streams)]" "counts: events and streams"
for b in by-category by-type counts; do assert_exit 0 "$ES" project rm "$b"; done
assert_exit 1 "$ES" replay builtin:nope
assert_contains "$ERR" "there are: by-category, by-type, counts" "an unknown built-in"

check "a restart keeps the projections; list; rm"
stop_esd
start_esd "$DATA" --heartbeat 200
wait_for 20 "totals to run again after the restart" position_is_head totals
assert_exit 0 "$ES" project list
assert_eq "$(echo "$OUT" | jq -r .name | paste -sd' ')" "picky totals" "es project list"
assert_eq "$(echo "$OUT" | jq -r 'select(.name == "picky") | .status')" failed "picky stays failed"
assert_exit 0 "$ES" project rm picky
assert_eq "$(echo "$OUT" | jq -r .status)" removed "es project rm"
assert_exit 4 "$ES" state picky
assert_exit 4 "$ES" project status picky

check "a read side apart: esd --project-from the write side's node"
WRITE_SIDE=$ES_SERVER
WRITE_PID=$ESD_PID
start_esd "$TMP/readside" --project-from "$WRITE_SIDE"
READ_SIDE=$ES_SERVER
assert_exit 0 "$ES" project add totals "$EXAMPLE/totals.jq"
WRITE_HEAD=$("$ES" -s "$WRITE_SIDE" status | jq .head)
at_write_head() { [ "$("$ES" project status totals | jq '.position, .head' | paste -sd' ')" = "$WRITE_HEAD $WRITE_HEAD" ]; }
wait_for 30 "the read side to reach the write side's head ($WRITE_HEAD)" at_write_head
want=$("$ES" -s "$WRITE_SIDE" replay "$EXAMPLE/totals.jq")
assert_eq "$("$ES" state totals)" "$want" "read side's states vs es replay on the write side"
assert_eq "$("$ES" status | jq .head)" 0 "the read side stores no events"
stop_esd "$WRITE_PID"
assert_eq "$("$ES" -s "$READ_SIDE" state totals)" "$want" "queries go on with the write side down"

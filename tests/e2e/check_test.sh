#!/usr/bin/env bash
# check_test: es check's one-line verdicts and their Nagios exit codes:
# OK on a healthy node, WARNING and CRITICAL on an old head and on little
# disk room (thresholds set to make them so), CRITICAL for a failed
# projection and for a node that does not answer, UNKNOWN for a command
# line it cannot use; -o json says the same.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

start_esd "$TMP/data"

check "OK on an empty, healthy node"
assert_exit 0 "$ES" check
[[ "$OUT" =~ ^OK:\ head\ 0\ \(empty\),\ no\ replicas,\ 0\ projections\ running,\ [0-9]+%\ disk\ free$ ]] ||
  fail "verdict: $OUT"

check "the head's age: WARNING past the first threshold, CRITICAL past the second"
"$ES" append order-1 --type Placed --data '{"product":"p1"}' >/dev/null
sleep 1.1
assert_exit 0 "$ES" check --head-age 60,120
assert_contains "$OUT" "OK: head 1 (" "verdict"
assert_exit 1 "$ES" check --head-age 0.5
assert_contains "$OUT" "WARNING: head 1 (" "verdict"
assert_contains "$OUT" "old), older than 0.5 s; no replicas, " "verdict"
assert_exit 2 "$ES" check --head-age 0.2,0.5
assert_contains "$OUT" "CRITICAL: head 1" "verdict"

check "disk room under the thresholds"
assert_exit 1 "$ES" check --disk-free 101
assert_contains "$OUT" "WARNING: " "verdict"
assert_contains "$OUT" "% disk free (" "verdict"
assert_exit 2 "$ES" check --disk-free 101,101

check "a failed projection is CRITICAL"
"$ES" append order-2 --type Placed --data '{"product":"p7"}' >/dev/null
cat >"$TMP/picky.jq" <<'JQ'
def from: {category: "order"};
def key: .data.product;
def init: 0;
def when: if .event.data.product == "p7" then error("p7 is not sold here") else .state + 1 end;
JQ
"$ES" project add picky "$TMP/picky.jq" >/dev/null
failed() { [ "$("$ES" project status picky | jq -r .status)" = failed ]; }
wait_for 20 "picky to fail" failed
assert_exit 2 "$ES" check
assert_contains "$OUT" "CRITICAL: projection picky failed: " "verdict"
assert_contains "$OUT" "p7 is not sold here; head 2" "verdict"
assert_exit 2 "$ES" check -o json
assert_eq "$(jq -c '[.status, .code, .projections.failed, .head]' <<<"$OUT")" '["CRITICAL",2,["picky"],2]' "json"

check "UNKNOWN for a command line es check cannot use"
assert_exit 3 "$ES" check --lag many
assert_contains "$OUT" "UNKNOWN: --lag 'many'" "verdict"
assert_exit 3 "$ES" check --no-such-option

check "replication: the primary counts its replica, the replica its lag; a lost primary warns"
PRIMARY=$ES_SERVER
PRIMARY_PID=$ESD_PID
start_esd "$TMP/replica" --role replica --follow "$PRIMARY"
REPLICA=$ES_SERVER
# (es check exits non-zero on a verdict other than OK: not a failure here)
verdict() { "$ES" -s "$1" check --disk-free 0 || true; }
one_replica() { [[ "$(verdict "$PRIMARY")" == *", 1 replica within 0 events, "* ]]; }
wait_for 15 "the replica in the primary's check" one_replica
assert_exit 0 "$ES" -s "$REPLICA" check --disk-free 0
assert_contains "$OUT" "OK: head 2 (" "verdict"
assert_contains "$OUT" "following $PRIMARY within 0 events, 0 projections running" "verdict"
stop_esd "$PRIMARY_PID"
lost() { [[ "$(verdict "$REPLICA")" == "WARNING: replica of $PRIMARY is connecting"* ]]; }
wait_for 15 "the replica to warn" lost
assert_exit 1 "$ES" -s "$REPLICA" check --disk-free 0

check "a node that does not answer is CRITICAL"
stop_esd
assert_exit 2 "$ES" --timeout 1 check
assert_contains "$OUT" "CRITICAL: node $ES_SERVER: " "verdict"

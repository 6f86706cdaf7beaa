#!/usr/bin/env bash
# tests/e2e/project_wait_test.sh ESD ES: waiting for hosted projections, and
# what es prints for them with -o text.
#   - es project add --wait prints the line once the projection has folded
#     the head as it was at the call; es state right after it has every
#     event and says nothing on stderr;
#   - a projection slower than --timeout: --wait exits 5 naming how far it
#     got, and es state says on stderr that it is behind;
#   - a projection that fails while waited for: exit 1 with its error;
#   - reset --wait returns once the new build is swapped in;
#   - -o text: tables for project list and status, state and replay.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EXAMPLE=$(cd "$(dirname "$0")/../../examples/orders" && pwd)
start_esd "$TMP/data"

# N OrderPlaced events over 20 products.
awk 'BEGIN { for (i = 0; i < 3000; i++)
  printf("{\"stream\":\"order-%d\",\"type\":\"OrderPlaced\",\"data\":{\"product\":\"p%d\",\"quantity\":1,\"unit_price\":0.5}}\n", i, i % 20) }' |
  "$ES" --timeout 60 append >/dev/null || fail "the load failed"

check "add --wait: the line once caught up; es state then has every event, silently"
assert_exit 0 "$ES" project add --wait totals "$EXAMPLE/totals.jq"
assert_eq "$(jq -c '[.status, .position, .head, .lag, .partitions]' <<<"$OUT")" '["running",3000,3000,0,20]' \
  "add --wait's line"
assert_exit 0 "$ES" state totals p3
assert_eq "$OUT" '{"key":"p3","state":{"quantity":150,"total":75}}' "state after --wait"
assert_eq "$ERR" "" "es state's stderr on a caught-up projection"

check "a projection slower than --timeout: --wait exits 5; es state says it is behind"
# A loop per event: several milliseconds each, 3000 events: far longer than
# the 2 s --timeout, which leaves the add itself (a worker compiles the
# file; slow to start under ASan) time to answer.
sed 's/^def init: .*/&\ndef slow: reduce range(0; 100000) as $i (.; .);/; s/| .total = \(.*\);$/| .total = \1 | slow;/' \
  "$EXAMPLE/totals.jq" >"$TMP/slow.jq"
grep -q "| slow;" "$TMP/slow.jq" || fail "slow.jq was not made"
assert_exit 5 "$ES" --timeout 2 project add --wait slow "$TMP/slow.jq"
assert_contains "$ERR" "es: error: projection slow is at position" "--wait's timeout"
assert_contains "$ERR" "of 3000 after 2 s (--timeout)" "--wait's timeout"
assert_exit 0 "$ES" state slow
assert_contains "$ERR" "es: state: projection slow is at position" "es state on a projection behind"
assert_contains "$ERR" "of 3000" "es state on a projection behind"
assert_exit 0 "$ES" project rm slow

check "a projection that fails while waited for: exit 1 with its error"
printf '%s\n' 'def from: {category: "order"};' 'def key: "all";' 'def init: 0;' \
  'def when_OrderPlaced: if .event.position == 2000 then error("boom at 2000") else .state + 1 end;' >"$TMP/boom.jq"
assert_exit 1 "$ES" project add --wait boom "$TMP/boom.jq"
assert_contains "$ERR" "projection boom failed" "--wait on a failing projection"
assert_contains "$ERR" "boom at 2000" "--wait on a failing projection"

check "reset --wait: once the new build is swapped in"
assert_exit 0 "$ES" project reset --wait totals
assert_eq "$(jq -c '[.status, .position, .lag, .generation, .rebuilding]' <<<"$OUT")" '["running",3000,0,2,false]' \
  "reset --wait's line"

check "-o text: tables"
assert_exit 0 "$ES" -o text project list
assert_eq "$(head -1 <<<"$OUT" | tr -s ' ')" "NAME STATUS POSITION HEAD LAG PARTITIONS EVENTS/S GENERATION REBUILD ERROR" \
  "project list's header"
assert_eq "$(grep '^totals ' <<<"$OUT" | tr -s ' ' | cut -d' ' -f1-5)" "totals running 3000 3000 0" "project list's row"
assert_eq "$(grep -c . <<<"$OUT")" 3 "project list: a header and two rows"
assert_exit 0 "$ES" -o text project status
assert_eq "$(grep -c . <<<"$OUT")" 3 "project status alone: every projection"
assert_exit 0 "$ES" -o text state totals p3
assert_eq "$OUT" 'KEY  STATE
p3   {"quantity":150,"total":75}' "state -o text"
assert_exit 0 "$ES" -o text replay builtin:counts
assert_eq "$OUT" 'KEY  STATE
all  {"streams":3000,"events":3000,"last_position":3000}' "replay -o text"
# Columns line up: every row of the list starts its STATUS column where the
# header does.
col=$("$ES" -o text project list | awk 'NR == 1 { print index($0, "STATUS") }')
"$ES" -o text project list | awk -v c="$col" 'NR > 1 && substr($0, c - 2, 2) != "  " { exit 1 }' ||
  fail "project list's columns do not line up"

check "progress on a terminal only: es replay of a slow projection"
# script(1) gives es a terminal; the line is drawn after 0.5 s, then erased.
sed 's/range(0; 100000)/range(0; 4000)/' "$TMP/slow.jq" >"$TMP/slow4.jq"
ES_SERVER=$ES_SERVER timeout 60 script -qec "'$ES' replay '$TMP/slow4.jq' >'$TMP/replay.out'" /dev/null >"$TMP/tty.out" 2>&1 ||
  fail "es replay under script failed: $(cat "$TMP/tty.out")"
grep -q "es: replay slow4: [0-9,]* of 3,000 positions ([0-9,]*/s)" "$TMP/tty.out" ||
  fail "no progress line on a terminal: [$(tr '\r' '\n' <"$TMP/tty.out" | head -5)]"
[ "$(wc -l <"$TMP/replay.out")" -eq 20 ] || fail "es replay's output under a terminal: $(head -3 "$TMP/replay.out")"
assert_exit 0 "$ES" replay "$TMP/slow4.jq"
assert_eq "$ERR" "" "es replay's stderr when it is not a terminal"

stop_esd
echo "PASS $E2E_NAME"

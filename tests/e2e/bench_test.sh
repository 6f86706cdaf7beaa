#!/usr/bin/env bash
# tests/e2e/bench_test.sh ESD ES
#
# es bench against a node, with small counts: each subcommand runs, its
# JSON has the fields, and its numbers agree with the node (events appended
# = the streams' versions = what es read --all counts); --expect works on a
# category written before; bad flags are refused with exit 2.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
start_esd "$TMP/node"

check "es bench append: 2 clients, batch 10, 3000 events into category b1"
assert_exit 0 es bench append --category b1 --clients 2 --batch 10 --count 3000 --streams 4 --size 64
line=$OUT
for f in workload server category size clients batch streams expect events requests errors \
  elapsed_s events_per_s mb_per_s latency_p50_us latency_p90_us latency_p99_us latency_p99_9_us \
  latency_max_us; do
  [ "$(jq --arg f "$f" 'has($f)' <<<"$line")" = true ] || fail "es bench append: no field $f in $line"
done
assert_eq "$(jq -r '[.workload, .category, .clients, .batch, .size, .events, .requests, .errors] | join(" ")' <<<"$line")" \
  "append b1 2 10 64 3000 300 0" "append summary"
jq -e '.events_per_s > 0 and .mb_per_s > 0 and .latency_p50_us > 0 and
  .latency_p50_us <= .latency_p90_us and .latency_p90_us <= .latency_p99_us and
  .latency_p99_us <= .latency_p99_9_us and .latency_p99_9_us <= .latency_max_us' <<<"$line" >/dev/null ||
  fail "append figures out of order: $line"
# The node agrees: 4 streams of 750 events (versions 0..749), 3000 in the log.
assert_eq "$(es streams --prefix b1- | jq -r '.stream + ":" + (.last_version | tostring)' | sort | tr '\n' ' ')" \
  "b1-1:749 b1-2:749 b1-3:749 b1-4:749 " "the streams' versions"
assert_eq "$(es read --all --category b1 | wc -l)" "3000" "events of category b1 in the log"
assert_eq "$(es read --all --category b1 -n 1 | jq -r '.type + " " + (.data | tojson | length | tostring)')" \
  "BenchEvent 64" "event type and data size"

check "es bench append --expect on the streams written before continues their versions"
assert_exit 0 es bench append --category b1 --expect --clients 2 --count 400 --streams 4 -o text
assert_contains "$OUT" "expect" "text summary"
grep -Eq '^events: +400$' <<<"$OUT" || fail "text summary: events should be 400: $OUT"
grep -Eq '^errors: +0$' <<<"$OUT" || fail "text summary: errors should be 0: $OUT"
assert_eq "$(es streams --prefix b1- | jq -r '.last_version' | sort -u)" "849" "versions after --expect"

check "es bench append --duration ends on time"
assert_exit 0 es bench append --category b2 --duration 0.5 --clients 2
n=$(jq -r .events <<<"$OUT")
[ "$n" -gt 0 ] || fail "no events appended in 0.5 s: $OUT"
jq -e '.elapsed_s < 5' <<<"$OUT" >/dev/null || fail "0.5 s ran long: $OUT"
assert_eq "$(es read --all --category b2 | wc -l)" "$n" "events of b2 in the log"

check "es bench read --stream preloads and reads one stream; --all reads the whole log"
assert_exit 0 es bench read --stream --category b3 --count 2500 --page 300
assert_eq "$(jq -r '[.workload, .stream, .preloaded, .events, .requests, .errors] | join(" ")' <<<"$OUT")" \
  "read b3-1 2500 2500 9 0" "read --stream summary"
head=$(es status | jq -r .head)
assert_exit 0 es bench read --all
assert_eq "$(jq -r '[.stream, .preloaded, .events] | join(" ")' <<<"$OUT")" "\$all 0 $head" "read --all summary"
assert_eq "$(es read --all | wc -l)" "$head" "es read --all agrees"
jq -e '.events_per_s > 0 and .latency_max_us > 0' <<<"$OUT" >/dev/null || fail "read figures: $OUT"

check "es bench latency: every event reaches the subscriber, whatever else is appended meanwhile"
"$ES" bench append --category noise --duration 2 >"$TMP/noise.out" 2>&1 &
noise=$!
bg_track "$noise"
assert_exit 0 es bench latency --category b4 --rate 2000 --count 1000 --clients 2
wait_pid "$noise" 15
assert_eq "$WAIT_RC" "0" "the other writer's exit status"
assert_eq "$(jq -r '[.workload, .events, .received, .missing, .duplicates, .errors] | join(" ")' <<<"$OUT")" \
  "latency 1000 1000 0 0 0" "latency summary"
jq -e '.latency_p50_us > 0 and .latency_p99_us >= .latency_p50_us and has("ack_latency_p99_us")' \
  <<<"$OUT" >/dev/null || fail "latency figures: $OUT"
assert_eq "$(es read --all --category b4 | jq -r 'select(.stream != "b4-warm") | .id' | wc -l)" "1000" \
  "measured events of b4 in the log"

check "bad flags are refused with exit 2"
assert_exit 2 es bench append --clients 0
assert_contains "$ERR" "--clients" "error names the option"
assert_exit 2 es bench append --count -5
assert_exit 2 es bench append --batch 100001
assert_exit 2 es bench append --size 10
assert_exit 2 es bench append --duration 0
assert_exit 2 es bench append --category a-b
assert_exit 2 es bench read
assert_exit 2 es bench read --stream --all
assert_exit 2 es bench latency --count 2000000
assert_exit 2 es bench latency --rate 1 --duration 0.5
assert_exit 2 es bench nothing
assert_exit 2 es bench

check "a node that is not there: exit 5"
assert_exit 5 es -s tcp://127.0.0.1:1 --timeout 1 bench append --count 10
assert_eq "$OUT" "" "no summary when nothing answered"
assert_contains "$ERR" "nothing listens" "the error"

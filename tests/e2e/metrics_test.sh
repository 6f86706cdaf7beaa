#!/usr/bin/env bash
# metrics_test: esd --http-listen serves the Prometheus text format on
# /metrics (promtool accepts it; counters move with a load), /livez, and
# /readyz, which says not ready until the store is open (ESD_FAILPOINT
# open-delay holds the opening), and on a replica only while it follows its
# primary. Other paths are 404, other methods 405; a port taken is a start
# error. es append's correlation ids reach the events' metadata (not a
# copy's) and esd's debug log.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v curl >/dev/null || fail "curl is needed (scripts/deps.sh)"
command -v promtool >/dev/null || fail "promtool is needed (prometheus, scripts/deps.sh)"

read -r HTTP HTTP2 <<<"$(pick_ports 2)"
URL="http://127.0.0.1:$HTTP"
# code and body of a GET, on one line
get() { curl -s -m 5 -w ' %{http_code}' "$@"; }
metric() { curl -s -m 5 "$URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

check "/readyz answers 503 while the store opens, then 200; /livez 200 throughout"
(
  for _ in $(seq 1 150); do
    echo "$(get "$URL/readyz" | tr '\n' ' ') | $(get "$URL/livez" | tr '\n' ' ')"
    sleep 0.1
  done
) >"$TMP/probes" 2>/dev/null &
bg_track $!
ESD_FAILPOINT=open-delay:2000 start_esd "$TMP/data" --http-listen "$HTTP" --log-level debug
wait_for 10 "/readyz to say ready" grep -q '^ready  200' "$TMP/probes"
grep -q '^not ready: opening the store (recovery)  503 | alive: opening the store (recovery)  200' \
  "$TMP/probes" || fail "no 503 before the store was open: $(head -3 "$TMP/probes")"
assert_eq "$(get "$URL/livez")" "alive
 200" "/livez once serving"

check "404 for another path, 405 for another method"
assert_eq "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/nothing-here")" 404 "GET /nothing-here"
assert_eq "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "$URL/metrics")" 405 "POST /metrics"

check "counters move with a load of 2000 events; a conflict counts"
before=$(metric esd_appended_events_total)
assert_eq "$before" 0 "appended events before"
seq 1 2000 | awk '{ printf "{\"type\":\"Tick\",\"data\":{\"n\":%d}}\n", $1 }' |
  "$ES" append ticks --batch 500 >/dev/null || fail "the load failed"
assert_exit 3 "$ES" append ticks --type T --data 1 --expect 5
curl -s -m 5 "$URL/metrics" >"$TMP/metrics"
m() { awk -v m="$1" '$1 == m { print $2 }' "$TMP/metrics"; }
assert_eq "$(m esd_appended_events_total)" 2000 "appended events after"
assert_eq "$(m esd_head_position)" 2000 "head position"
assert_eq "$(m 'esd_requests_total{kind="append",outcome="ok"}')" 4 "append requests ok"
assert_eq "$(m 'esd_requests_total{kind="append",outcome="wrong-expected-version"}')" 1 \
  "append requests refused"
assert_eq "$(m esd_append_conflicts_total)" 1 "conflicts"
[ "$(m esd_commit_duration_seconds_count)" -ge 4 ] || fail "commit histogram: $(m esd_commit_duration_seconds_count)"
[ "$(m esd_journal_write_duration_seconds_count)" -ge 4 ] || fail "journal write histogram"
[ "$(m esd_appended_bytes_total)" -gt 20000 ] || fail "appended bytes: $(m esd_appended_bytes_total)"
assert_eq "$(m 'esd_commit_group_events_bucket{le="+Inf"}')" "$(m esd_commit_group_events_count)" \
  "+Inf bucket = count"

check "es append adds a correlation id; esd logs it at debug; a copy keeps its bytes"
"$ES" append orders --type Placed --data 1 --correlation-id corr-42 >/dev/null
assert_eq "$("$ES" read orders | jq -r '.metadata."$correlationId"')" corr-42 "the event's correlation id"
printf '%s\n' '{"type":"A","data":1}' '{"type":"B","data":2,"metadata":{"$correlationId":"mine","k":1}}' |
  "$ES" append made >/dev/null
made=$("$ES" read made | jq -r '.metadata."$correlationId"' | paste -sd' ')
[[ "$made" =~ ^[0-9a-f-]{36}\ mine$ ]] || fail "made and kept correlation ids: $made"
"$ES" read made | "$ES" append made-copy --correlation-id other >/dev/null
assert_eq "$("$ES" read made-copy | jq -c .metadata | paste -sd' ')" \
  "$("$ES" read made | jq -c .metadata | paste -sd' ')" "the copy's metadata"
wait_for 5 "the correlation id in the log" grep -q 'append from [^:]*: ok (request #[0-9]*, correlation corr-42)' "$ESD_LOG"

check "a replica is ready only while it follows its primary"
PRIMARY=$ES_SERVER
PRIMARY_PID=$ESD_PID
start_esd "$TMP/replica" --role replica --follow "$PRIMARY" --http-listen "127.0.0.1:$HTTP2"
wait_for 15 "the replica to be ready" sh -c "curl -s -m 2 http://127.0.0.1:$HTTP2/readyz | grep -qx ready"
wait_for 15 "the replica in the primary's metrics" \
  sh -c "curl -s -m 2 $URL/metrics | grep -q '^esd_replica_lag_events{replica=\"$ES_SERVER\",role=\"replica\"} 0'"

check "a replica copies live commit groups from the feed, without a read per group"
# (It once asked its primary for every group it saw published, and fell
# behind for good under 1,600 appends/s: esbench W9.)
REPLICA=$ES_SERVER
reads() { curl -s -m 5 "$URL/metrics" | awk '$1 == "esd_requests_total{kind=\"read\",outcome=\"ok\"}" { print $2 }'; }
head_of() { "$ES" -s "$1" status | jq .head; }
reads_before=$(reads)
for i in $(seq 1 30); do
  "$ES" -s "$PRIMARY" append live --type Tick --data "$i" >/dev/null || fail "append $i"
done
wait_for 15 "the replica to hold the 30 events" sh -c "[ \"\$('$ES' -s '$REPLICA' status | jq .head)\" = $(head_of "$PRIMARY") ]"
reads_after=$(reads)
[ $((reads_after - reads_before)) -lt 10 ] ||
  fail "the primary answered $((reads_after - reads_before)) reads while the replica copied 30 groups"
assert_eq "$("$ES" -s "$REPLICA" read live | jq -c .data | paste -sd' ')" "$(seq 1 30 | paste -sd' ')" \
  "the replica's copy"
assert_exit 0 "$ES" -s "$REPLICA" verify

check "promtool check metrics accepts both nodes' exposition"
curl -s -m 5 "$URL/metrics" | promtool check metrics || fail "promtool refused the primary's metrics"
curl -s -m 5 "http://127.0.0.1:$HTTP2/metrics" | promtool check metrics ||
  fail "promtool refused the replica's metrics"
curl -s -m 5 "http://127.0.0.1:$HTTP2/metrics" | grep -q '^esd_primary_up 1' || fail "esd_primary_up on the replica"

stop_esd "$PRIMARY_PID"
wait_for 20 "the replica to say not ready" \
  sh -c "curl -s -m 2 -w ' %{http_code}' http://127.0.0.1:$HTTP2/readyz | tr '\n' ' ' | grep -q 'not following it (connecting.*503'"

check "a taken HTTP port is a start error"
assert_exit 1 "$ESD" --data "$TMP/other" --listen "tcp://127.0.0.1:$(pick_port)" --http-listen "127.0.0.1:$HTTP2"
assert_contains "$ERR" "cannot serve HTTP on 127.0.0.1:$HTTP2" "the error"

#!/usr/bin/env bash
# tests/e2e/stop_lock_test.sh ESD ES: graceful stop (es stop, SIGTERM,
# SIGINT), one node per data directory, restart with the same head.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
data=$TMP/data
start_esd "$data"
first_pid=$ESD_PID
first_server=$ES_SERVER
first_log=$ESD_LOG

seq 1 25 | jq -c '{stream: "s-\(. % 4)", type: "T", data: .}' | es append >/dev/null
es append one -t T -d '{"x":1}' >/dev/null
assert_eq "$(es status | jq .head)" 26 "head"
[ -f "$data/esd.lock" ] || fail "no esd.lock in the data directory"

check "a second esd on the same data directory (other ports) exits 1 naming the directory"
other=$(pick_port)
rc=0
timeout 30 "$ESD" --data "$data" --listen "tcp://127.0.0.1:$other" --publish 'tcp://127.0.0.1:*' \
  >"$TMP/second.out" 2>"$TMP/second.err" || rc=$?
assert_eq "$rc" 1 "exit status of the second esd"
assert_contains "$(cat "$TMP/second.err")" "$data" "the second esd's message"
echo "   second esd said: $(cat "$TMP/second.err")"
port_in_use "$other" && fail "the second esd left something listening on $other"

check "the first esd keeps serving: status, reads and appends"
kill -0 "$first_pid" 2>/dev/null || fail "the first esd died"
assert_exit 0 es status
assert_eq "$(jq .head <<<"$OUT")" 26 "head after the refused start"
assert_exit 0 es append one -t T -d '{"x":2}'
assert_eq "$(jq -c '[.first_version, .first_position]' <<<"$OUT")" '[1,27]' "append after the refused start"
assert_eq "$(es read --all | wc -l)" 27 "events"

check "another esd on the same listen port (other directory) exits 1"
rc=0
timeout 30 "$ESD" --data "$TMP/data2" --listen "$first_server" --publish 'tcp://127.0.0.1:*' \
  >/dev/null 2>"$TMP/third.err" || rc=$?
assert_eq "$rc" 1 "exit status of an esd whose port is taken"
assert_contains "$(cat "$TMP/third.err")" "cannot listen" "its message"
assert_exit 0 es status

check "es stop: exit 0, {\"stopped\":true,\"head\":27}, esd exits 0 and logs the stop"
es read --all >"$TMP/before"
stop_esd "$first_pid"
assert_eq "$STOP_OUT" '{"stopped":true,"head":27}' "es stop output"
assert_eq "$ESD_EXIT" 0 "esd exit status after es stop"
grep -q "stopped at position 27" "$first_log" || fail "no 'stopped at position 27' in the log: $(cat "$first_log")"
grep -q "stopping: asked by 127.0.0.1" "$first_log" || fail "the log does not say a client stopped esd: $(cat "$first_log")"
assert_exit 5 es --timeout 0.5 status

check "esd starts again on the directory with the same head and events"
start_esd "$data"
assert_eq "$(es status | jq .head)" 27 "head after restart"
assert_eq "$(es status | jq .streams)" 5 "streams after restart"
es read --all >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || fail "the events changed across the restart"
assert_exit 0 es append one -t T -d '{"x":3}'
assert_eq "$(jq -c '[.first_version, .first_position]' <<<"$OUT")" '[2,28]' "append after restart"
grep -q "head position 27" "$ESD_LOG" || fail "the start log line does not give head 27: $(cat "$ESD_LOG")"

# Sends SIG to the running esd: it must exit 0 and log the signal and the
# position it stopped at.
stop_by_signal() {
  local sig=$1 pid=$ESD_PID log=$ESD_LOG
  kill -"$sig" "$pid"
  wait_pid "$pid" 15
  assert_eq "$WAIT_RC" 0 "esd exit status after SIG$sig"
  grep -q "stopping: signal" "$log" || fail "the log does not say a signal stopped esd: $(cat "$log")"
  grep -q "stopped at position 28" "$log" || fail "no 'stopped at position 28' in the log: $(cat "$log")"
}

check "SIGTERM: esd exits 0 and logs the stop"
stop_by_signal TERM

check "SIGINT: esd exits 0 too"
start_esd "$data"
assert_eq "$(es status | jq .head)" 28 "head after restart"
stop_by_signal INT

check "the lock is released on stop: a new esd takes the directory"
start_esd "$data"
assert_eq "$(es status | jq .head)" 28 "head"
stop_esd
assert_eq "$ESD_EXIT" 0 "esd exit status"

check "--listen tcp://127.0.0.1:*: the log and es status give the port esd bound"
"$ESD" --data "$TMP/data-star" --listen 'tcp://127.0.0.1:*' 2>"$TMP/esd.star.log" &
star_pid=$!
ESD_PIDS+=("$star_pid")
wait_for 15 "esd to log where it listens" grep -q "listening on tcp://127.0.0.1:[0-9]" "$TMP/esd.star.log"
star=$(sed -n 's/.*listening on \(tcp:[^,]*\), publishing on tcp:.*/\1/p' "$TMP/esd.star.log")
ESD_SERVERS[$star_pid]=$star
echo "   esd said it listens on $star"
wait_for 15 "es status on $star" "$ES" -s "$star" --timeout 1 status
assert_eq "$(es -s "$star" status | jq -r .listen)" "$star" "status .listen"
stop_esd "$star_pid"
assert_eq "$ESD_EXIT" 0 "esd exit status"

check "bad --journal-size and --durability values are usage errors that name the option"
for bad in 10 abc 1X -5 99999999G; do
  assert_exit 2 "$ESD" --data "$TMP/data-bad" --journal-size "$bad"
  assert_contains "$ERR" "--journal-size" "the error for --journal-size $bad"
done
assert_exit 2 "$ESD" --data "$TMP/data-bad" --durability nometasync
assert_contains "$ERR" "nometasync is gone" "the error for --durability nometasync"
[ ! -e "$TMP/data-bad" ] || fail "a refused esd made its data directory"

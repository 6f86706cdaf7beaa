#!/usr/bin/env bash
# tests/e2e/connection_cap_test.sh ESD ES CONN_FLOOD: esd --max-clients.
# Connections from 127.0.0.2 (another loopback address) fill the cap: the
# ones past it are refused at their handshake (ZAP), the log says so once,
# and es status from 127.0.0.1 still answers (the room kept for the host);
# once they go, others get in again and the log says that too.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
FLOOD=$3

start_esd "$TMP/data" --max-clients 20
port=${ES_SERVER##*:}

check "40 connections from 127.0.0.2 against a cap of 20"
"$FLOOD" "tcp://127.0.0.1:$port" 127.0.0.2 40 8 >"$TMP/flood.out" 2>"$TMP/flood.err" &
flood=$!
bg_track "$flood"
wait_for 10 "the flood's handshakes" test -s "$TMP/flood.out"
read -r _ accepted _ refused <"$TMP/flood.out"
echo "   accepted $accepted, refused $refused"
[ "$accepted" -le 21 ] || fail "$accepted connections got in past a cap of 20"
[ "$accepted" -ge 15 ] || fail "only $accepted connections got in under a cap of 20"
[ "$refused" -ge 15 ] || fail "only $refused connections were refused"
grep -q "refusing connections: .* the limit is 20 (esd --max-clients), and 16 more for 127.0.0.1 and ::1; refused 127.0.0.2" "$ESD_LOG" ||
  fail "the log does not say the cap was reached: $(tail -3 "$ESD_LOG")"
[ "$(grep -c "refusing connections" "$ESD_LOG")" -eq 1 ] || fail "the log says it more than once"

check "es status from 127.0.0.1 still answers, within a second"
for _ in 1 2 3; do
  "$ES" --timeout 1 status >/dev/null || fail "es status did not answer at the cap"
done
es append s --type T --data 1 >/dev/null || fail "an append from 127.0.0.1 failed at the cap"

check "once the flood is gone, others get in again"
wait_pid "$flood" 20
"$FLOOD" "tcp://127.0.0.1:$port" 127.0.0.2 5 0 >"$TMP/again.out"
read -r _ accepted _ refused <"$TMP/again.out"
assert_eq "$accepted $refused" "5 0" "accepted and refused after the flood"
grep -q "taking connections again" "$ESD_LOG" || fail "the log does not say it takes connections again"

check "a bad --max-clients is a usage error"
assert_exit 2 "$ESD" --data "$TMP/other" --max-clients 0
stop_esd
assert_eq "$ESD_EXIT" 0 "esd's exit status"
echo "PASS"

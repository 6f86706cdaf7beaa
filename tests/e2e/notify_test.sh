#!/usr/bin/env bash
# tests/e2e/notify_test.sh ESD ES NOTIFY_LISTENER: esd under a stand-in for
# systemd (its own NOTIFY_SOCKET, read by tests/tools/notify_listener).
# READY=1 comes only once esd serves (the listener finds the request socket
# accepting when READY arrives, nothing comes before it, and es status
# answers at once), STATUS= carries the head (at most once a second),
# WATCHDOG=1 comes every half of WATCHDOG_USEC from the request loop, and
# stops while the process is stopped (SIGSTOP), and STOPPING=1 comes on
# SIGTERM, after which no keep-alive does.
source "$(dirname "$0")/lib.sh"
LISTENER=${3:?usage: $0 ESD ES NOTIFY_LISTENER}
e2e_init "$1" "$2"
export LC_ALL=C
notes=$TMP/notes
now() { "$LISTENER" --now; }
# pings FROM TO: the WATCHDOG=1 lines received in [FROM, TO) (ms).
pings() { awk -v a="$1" -v b="$2" '$2 == "WATCHDOG=1" && $1 >= a && $1 < b { n++ } END { print n + 0 }' "$notes"; }

check "esd with NOTIFY_SOCKET and a 200 ms watchdog (WATCHDOG_PID is esd's pid)"
sock=$TMP/notify.sock
listen=$TMP/esd.sock
"$LISTENER" "$sock" "$listen" >"$notes" &
bg_track $!
wait_for 5 "the listener's socket" test -S "$sock"
# A subshell's exec keeps its pid: WATCHDOG_PID names esd, as systemd's does.
(
  export NOTIFY_SOCKET=$sock WATCHDOG_USEC=200000 WATCHDOG_PID=$BASHPID
  exec "$ESD" --data "$TMP/data" --listen "ipc://$listen"
) 2>"$TMP/esd.1.log" &
pid=$!
ESD_PIDS+=("$pid")
export ES_SERVER=ipc://$listen
ESD_SERVERS[$pid]=$ES_SERVER
wait_for 15 "READY=1" grep -q ' READY=1$' "$notes"

check "READY=1 came first, when the request socket accepted, and es status answers at once"
assert_exit 0 "$ES" --timeout 1 status
first=$(head -2 "$notes" | cut -d' ' -f2- | tr '\n' '|')
assert_eq "$first" "PROBE ok|READY=1|" "the first notes"
grep -q ' STATUS=primary, head at position 0$' "$notes" || fail "no STATUS= with the head at READY: $(cat "$notes")"

check "WATCHDOG=1 every 100 ms (half of 200 ms) over 1.5 s"
t0=$(now)
sleep 1.5
t1=$(now)
n=$(pings "$t0" "$t1")
echo "   $n keep-alives in $((t1 - t0)) ms"
[ "$n" -ge 10 ] && [ "$n" -le 20 ] || fail "expected about 15 keep-alives in 1.5 s (one every 100 ms), got $n"
gap=$(awk -v a="$t0" -v b="$t1" '$2 == "WATCHDOG=1" && $1 >= a && $1 < b { if (p && $1 - p > m) m = $1 - p; p = $1 } END { print m + 0 }' "$notes")
[ "$gap" -lt 200 ] || fail "a gap of $gap ms between keep-alives: systemd would have killed esd (WATCHDOG_USEC: 200 ms)"

check "STATUS= follows the head, at most once a second"
for i in 1 2 3 4 5; do es append "order-$i" -t Placed -d "{\"n\":$i}" >/dev/null; done
wait_for 5 "STATUS= with head 5" grep -q ' STATUS=primary, head at position 5$' "$notes"
awk '$2 ~ /^STATUS=/ { if (p && $1 - p < 900) { print "STATUS lines " $1 - p " ms apart"; bad = 1 } p = $1 } END { exit bad }' \
  "$notes" || fail "STATUS= more often than once a second: $(grep STATUS= "$notes")"

check "a stopped process (SIGSTOP) sends no keep-alive; they resume on SIGCONT"
t0=$(now)
kill -STOP "$pid"
sleep 1
t1=$(now)
kill -CONT "$pid"
sleep 0.5
t2=$(now)
# (from 150 ms on: a keep-alive sent just before the stop may be read late)
stopped=$(pings $((t0 + 150)) "$t1")
resumed=$(pings "$t1" "$t2")
echo "   stopped for $((t1 - t0)) ms: $stopped keep-alives; $resumed in the $((t2 - t1)) ms after"
assert_eq "$stopped" 0 "keep-alives while stopped"
[ "$resumed" -ge 2 ] || fail "keep-alives did not resume after SIGCONT ($resumed)"

check "SIGTERM: STOPPING=1, no keep-alive after it, exit 0"
kill -TERM "$pid"
wait_pid "$pid" 15
assert_eq "$WAIT_RC" 0 "esd's exit status"
grep -q ' STOPPING=1$' "$notes" || fail "no STOPPING=1: $(tail -5 "$notes")"
after=$(awk '$2 == "STOPPING=1" { s = 1; next } s && $2 == "WATCHDOG=1" { n++ } END { print n + 0 }' "$notes")
assert_eq "$after" 0 "keep-alives after STOPPING=1"
grep -q ' STATUS=stopping: asked to stop$' "$notes" || fail "no stopping STATUS=: $(tail -5 "$notes")"

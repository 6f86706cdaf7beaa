#!/usr/bin/env bash
# tests/e2e/log_test.sh ESD ES: what esd writes to its log (stderr).
#   - --log-format json: one JSON object per line, {"time","level","msg"},
#     messages with quotes and newlines escaped; ISO 8601 times with the zone;
#   - one spelling per level (warn), --log-level warning taken as well;
#   - --log-level debug: requests that change the node with their peer and
#     outcome, commits with their sizes, group membership; trace: every
#     request and journal frame; the peer of es stop;
#   - "started" only once the sockets are bound.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

check "--log-format json --log-level trace: one object per line, everything escaped"
start_esd "$TMP/data" --log-format json --log-level trace
LOG=$ESD_LOG
for i in 1 2 3; do echo "{\"stream\":\"s-$i\",\"type\":\"T\",\"data\":{}}"; done | "$ES" append >/dev/null
assert_exit 0 timeout 20 "$ES" tail --group billing --from start --until-head
assert_exit 4 "$ES" subscriptions rm 'say "hi"'
stop_esd
jq -e . "$LOG" >/dev/null || fail "a line of the log is not JSON: $(cat "$LOG")"
assert_eq "$(jq -c 'keys' "$LOG" | sort -u)" '["level","msg","time"]' "the keys of every line"
assert_eq "$(jq -r '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}([+-][0-9]{2}:[0-9]{2}|Z)$")' "$LOG" | sort -u)" \
  true "ISO 8601 times with the zone"
assert_eq "$(jq -r .level "$LOG" | sort -u | grep -cvxE 'trace|debug|info|warn|error|critical')" 0 "level names"
msg() { jq -r .msg "$LOG"; }
assert_contains "$(msg)" 'checkpoint remove from 127.0.0.1: refused: no subscription named say "hi"' \
  "a message with quotes, the peer and the outcome"
# A message with a newline and quotes (ESD_FAILPOINT's text is in the error).
assert_exit 2 env ESD_FAILPOINT="$(printf 'two "quoted"\nlines')" "$ESD" --data "$TMP/fp" --log-format json
assert_eq "$(echo "$ERR" | jq -r .msg | tail -1)" "lines'" "the message's second line, decoded"
assert_eq "$(echo "$ERR" | wc -l)" 1 "one line per message"
assert_contains "$(echo "$ERR" | jq -r .msg)" 'two "quoted"' "quotes, decoded"
assert_contains "$(msg)" "commit: 1 appends (0 refused), 3 events at 1..3" "a commit with its size"
assert_contains "$(msg)" "group billing: member " "group membership"
assert_contains "$(msg)" "request append #" "trace: every request"
assert_contains "$(msg)" "journal frame 1: 3 events from position 1" "trace: journal frames"
assert_contains "$(msg)" "stopping: asked by 127.0.0.1" "the peer of es stop"

check "text: one spelling per level (warn), --log-level warning accepted"
NOBODY="tcp://127.0.0.1:$(pick_port)"
start_esd "$TMP/read" --project-from "$NOBODY" --log-level warning
wait_for 10 "a warning" grep -q "does not answer" "$ESD_LOG"
LINE=$(grep "does not answer" "$ESD_LOG")
echo "$LINE" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}([+-][0-9]{2}:[0-9]{2}|Z) warn read node: ' ||
  fail "a text line: [$LINE]"
grep -q " info " "$ESD_LOG" && fail "info lines at --log-level warning: $(cat "$ESD_LOG")"
stop_esd
assert_exit 2 "$ESD" --log-level loud

check "\"started\" only once the sockets are bound"
start_esd "$TMP/data"
assert_exit 1 "$ESD" --data "$TMP/other" --listen "$ES_SERVER"
assert_contains "$ERR" "cannot listen on $ES_SERVER" "the bind failure"
case "$ERR" in *started*) fail "started logged before the bind failed: $ERR" ;; esac
grep -q "info listening on $ES_SERVER" "$ESD_LOG" || fail "no listening line: $(cat "$ESD_LOG")"

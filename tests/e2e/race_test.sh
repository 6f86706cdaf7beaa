#!/usr/bin/env bash
# tests/e2e/race_test.sh ESD ES: optimistic concurrency under a real race
# (two writers expecting the same version: exactly one wins), and
# idempotent retries of an append with a fixed event id.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
start_esd "$TMP/data"

rounds=20
check "$rounds rounds: two concurrent appends --expect 0, exactly one wins"
for i in $(seq 1 "$rounds"); do
  es append "s$i" -t T -d '{"round":'"$i"'}' >/dev/null
  "$ES" append "s$i" --expect 0 --type T --data '{"w":1}' >"$TMP/a.out" 2>"$TMP/a.err" &
  pa=$!
  "$ES" append "s$i" --expect 0 --type T --data '{"w":2}' >"$TMP/b.out" 2>"$TMP/b.err" &
  pb=$!
  wait_pid "$pa" 30
  ra=$WAIT_RC
  wait_pid "$pb" 30
  rb=$WAIT_RC
  case "$ra$rb" in
    03) winner=a loser=b ;;
    30) winner=b loser=a ;;
    *) fail "round $i: exit statuses $ra and $rb (want one 0 and one 3); stderr: $(cat "$TMP/a.err" "$TMP/b.err")" ;;
  esac
  assert_eq "$(jq -c '[.first_version, .last_version, .count]' "$TMP/$winner.out")" '[1,1,1]' "round $i: winner's summary"
  assert_eq "$(cat "$TMP/$loser.out")" "" "round $i: loser's stdout"
  assert_contains "$(cat "$TMP/$loser.err")" "expected version 0" "round $i: loser's message"
  assert_contains "$(cat "$TMP/$loser.err")" "at version 1" "round $i: loser's message"
  assert_eq "$(es streams --prefix "s$i" | jq -c 'select(.stream == "s'"$i"'") | .last_version')" 1 "round $i: last version"
  assert_eq "$(es read "s$i" | jq -r .version | paste -sd' ')" "0 1" "round $i: versions"
  echo "   round $i: $winner won"
done
assert_eq "$(es status | jq .head)" $((rounds * 2)) "head"
assert_eq "$(es status | jq .conflicts)" "$rounds" "conflicts counted by the node"

check "idempotent retry: the same event (fixed id) twice gives the same positions"
id=0190a0b0-1111-7222-8333-444455556666
line='{"type":"T","data":1,"id":"'$id'"}'
first=$(echo "$line" | es append r)
head1=$(es status | jq .head)
second=$(echo "$line" | es append r)
assert_eq "$second" "$first" "summary of the retry"
assert_eq "$(jq -c '[.first_position, .first_version]' <<<"$first")" "[$head1,0]" "position of the event"
assert_eq "$(es status | jq .head)" "$head1" "head after the retry"
assert_eq "$(es read r | wc -l)" 1 "events in r"
check "the retry with --data --id is idempotent too"
assert_exit 0 es append r -t T -d 1 --id "$id"
assert_eq "$OUT" "$first" "summary of the --data retry"
assert_eq "$(es status | jq .head)" "$head1" "head"

check "the same id with different data: exit 1, already stored"
assert_exit 1 es append r <<<'{"type":"T","data":2,"id":"'$id'"}'
assert_contains "$ERR" "already stored" "error message"
check "the same id in another stream: exit 1, already stored"
assert_exit 1 es append r2 <<<"$line"
assert_contains "$ERR" "already stored" "error message"
assert_exit 4 es read r2
assert_eq "$(es status | jq .head)" "$head1" "head after the refused appends"

check "a retried batch (ids given) writes nothing the second time"
for k in 1 2 3 4 5; do echo '{"type":"B","data":'"$k"',"id":"'"$(new_uuid)"'"}'; done >"$TMP/batch"
first=$(es append rb <"$TMP/batch")
head2=$(es status | jq .head)
second=$(es append rb <"$TMP/batch")
assert_eq "$second" "$first" "summary of the retried batch"
assert_eq "$(es status | jq .head)" "$head2" "head after the retried batch"
assert_eq "$(es read rb | wc -l)" 5 "events in rb"
stop_esd
assert_eq "$ESD_EXIT" 0 "esd exit status"

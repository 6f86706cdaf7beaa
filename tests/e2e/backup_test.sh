#!/usr/bin/env bash
# tests/e2e/backup_test.sh ESD ES ACK_LOAD: es backup and es restore.
#   - es backup of a node under a steady append load with a hosted
#     projection running: the copy passes es verify --data; its head is at
#     least the head acknowledged before the backup began; every projection
#     checkpoint in it is at most its head (the node pauses between the two
#     copies: ESD_FAILPOINT=backup-pause, while the projection moves on);
#   - a second backup while one runs is refused, and so is a directory that
#     is not empty (named) or a relative path;
#   - esd started on the copy serves the same digest at its head as the
#     source at that position, and its projection goes on from its checkpoint;
#   - es restore into a fresh directory gives the same head and digest, and
#     refuses a data directory a running esd holds, and one that is not empty.
source "$(dirname "$0")/lib.sh"
e2e_init "$1" "$2"
ACK_LOAD=$3
EXAMPLE=$(cd "$(dirname "$0")/../../examples/orders" && pwd)

ESD_FAILPOINT=backup-pause:1500 start_esd "$TMP/data" --heartbeat 200
SOURCE=$ES_SERVER
SOURCE_PID=$ESD_PID

check "a hosted projection runs on the node"
assert_exit 0 env ES="$ES" "$EXAMPLE/place-orders.sh"
assert_exit 0 es project add --wait totals "$EXAMPLE/totals.jq"

check "a steady append load (bounded: 4 clients, 12 s, 200000 events)"
mkdir "$TMP/acks"
"$ACK_LOAD" load --server "$SOURCE" --dir "$TMP/acks" --clients 4 --seconds 12 --max 200000 \
  >"$TMP/load.out" 2>&1 &
LOAD_PID=$!
bg_track "$LOAD_PID"
acked_max() { cat "$TMP"/acks/acked.* 2>/dev/null | awk '$2 > m { m = $2 } END { print m + 0 }'; }
load_acked() { [ "$(acked_max)" -gt 500 ]; }
wait_for 10 "the load to be acknowledged" load_acked

check "es backup during the load"
acked=$(acked_max)
head_before=$(es status | jq .head)
[ "$head_before" -ge "$acked" ] || fail "the node's head $head_before is behind an acknowledged $acked"
es backup "$TMP/backup" >"$TMP/backup.json" 2>"$TMP/backup.err" &
BACKUP_PID=$!
sleep 0.5  # the node is copying (its pause is 1.5 s)

check "a second backup while one runs is refused (exit 1, naming the one running)"
assert_exit 1 es backup "$TMP/backup2"
assert_contains "$ERR" "a backup into $TMP/backup is running" "the refusal"
[ -e "$TMP/backup2" ] && fail "the refused backup made $TMP/backup2"

check "the node serves while it copies"
assert_exit 0 es --timeout 2 status
wait_pid "$BACKUP_PID" 30
assert_eq "$WAIT_RC" 0 "es backup's exit status ($(cat "$TMP/backup.err"))"
backup=$(cat "$TMP/backup.json")
echo "   $backup"
head=$(jq .head <<<"$backup")
digest=$(jq -r .digest <<<"$backup")
assert_eq "$(jq -r .checked_by <<<"$backup")" "node, es" "who checked the copy"
[ "$head" -ge "$head_before" ] || fail "the copy's head $head is before the head $head_before acknowledged before the backup"
[ "$(jq .acknowledged <<<"$backup")" -ge "$head_before" ] || fail "acknowledged < $head_before"
appended=$((head - head_before))
echo "   copy head $head; the node's head was $head_before before it ($appended events later)"
[ "$appended" -gt 0 ] || fail "no append was acknowledged while the node copied"

check "the copy's files are private"
assert_eq "$(stat -c %a "$TMP/backup")" 700 "mode of the backup directory"
assert_eq "$(stat -c %a "$TMP/backup/projections")" 700 "mode of its projections directory"
assert_eq "$(stat -c %a "$TMP/backup/data.mdb")" 600 "mode of data.mdb"
assert_eq "$(stat -c %a "$TMP/backup/projections/data.mdb")" 600 "mode of projections/data.mdb"
[ -e "$TMP/backup/journal" ] && fail "the backup holds a journal"

check "every projection checkpoint in the copy is at most its head (read with mdb_dump)"
# "checkpoints": name \0 generation:u32be -> position:u64le, printed in hex.
checkpoints=$(mdb_dump -s checkpoints "$TMP/backup/projections" |
  awk '/^HEADER=END/ { on = 1; next } on && /^DATA=END/ { exit } on { n++; if (n % 2 == 0) print $1 }')
[ -n "$checkpoints" ] || fail "no projection checkpoint in the copy"
for hex in $checkpoints; do
  le=$(echo "$hex" | sed -E 's/(..)/\1 /g' | awk '{ for (i = NF; i >= 1; i--) printf "%s", $i }')
  position=$((16#$le))
  echo "   projection checkpoint $position"
  [ "$position" -le "$head" ] || fail "a projection checkpoint ($position) is past the copy's head $head"
  [ "$position" -gt 0 ] || fail "a projection checkpoint is 0: the projection had not run"
done
assert_eq "$(jq .max_checkpoint <<<"$backup")" "$position" "the highest checkpoint es backup reported"

check "a backup into a directory that is not empty is refused, naming it; so is a relative path"
mkdir "$TMP/full"
touch "$TMP/full/x"
assert_exit 1 es backup "$TMP/full"
assert_contains "$ERR" "$TMP/full exists and is not empty" "the refusal"
assert_exit 2 es backup relative/dir
assert_contains "$ERR" "absolute path" "the refusal of a relative path"

kill -TERM "$LOAD_PID" 2>/dev/null || true
wait_pid "$LOAD_PID" 30

check "es restore puts the backup in place in a fresh directory"
assert_exit 0 es restore "$TMP/backup" "$TMP/restored"
assert_eq "$(jq -c '[.head, .digest]' <<<"$OUT")" "[$head,\"$digest\"]" "head and digest restored"
assert_eq "$(stat -c %a "$TMP/restored")" 700 "mode of the restored directory"
assert_eq "$(stat -c %a "$TMP/restored/projections/data.mdb")" 600 "mode of its projections"

check "es restore refuses a data directory a running esd holds, and one that is not empty"
assert_exit 1 es restore "$TMP/backup" "$TMP/data"
assert_contains "$ERR" "in use by a running esd" "the refusal of the running node's directory"
assert_exit 1 es restore "$TMP/backup" "$TMP/restored"
assert_contains "$ERR" "$TMP/restored exists and is not empty" "the refusal of a used directory"

check "es verify --data on the copy passes, with the same head and digest, adding nothing to it"
assert_exit 0 es verify --data "$TMP/backup"
assert_eq "$(jq -c '[.head, .digest]' <<<"$OUT")" "[$head,\"$digest\"]" "es verify --data"
assert_eq "$(ls "$TMP/backup" | tr '\n' ' ')" "data.mdb projections " "the backup after es verify --data"

check "esd started on the copy serves the same digest at its head as the source there"
for copy in backup restored; do
  start_esd "$TMP/$copy" --heartbeat 200
  assert_eq "$(es status | jq .head)" "$head" "the head of esd on the $copy"
  assert_exit 0 es verify
  assert_eq "$(jq -c '[.head, .digest]' <<<"$OUT")" "[$head,\"$digest\"]" "es verify of esd on the $copy"
  assert_exit 0 es -s "$SOURCE" verify --at "$head"
  assert_eq "$(jq -r .digest <<<"$OUT")" "$digest" "the source's digest at $head"
  position_is_head() { [ "$(es project status totals | jq '.position == .head')" = true ]; }
  wait_for 10 "the projection on the $copy to reach its head" position_is_head
  stop_esd
done
kill -0 "$SOURCE_PID" || fail "the source node died"
echo "PASS"

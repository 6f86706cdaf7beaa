#!/usr/bin/env bash
# tests/e2e/replica_disk_full_test.sh ESD ES
#
# A replica whose disk fills up: it stops copying with a "disk full" error
# in its log, keeps serving what it holds (a prefix of its primary's log,
# with the primary's digest at that position), and catches up with the
# same digest once there is room again. Needs root to mount a small tmpfs
# (and to grow it); skipped (exit 0 with a note) where mounting is not
# allowed.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
MNT=$TMP/mnt
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root)"
  exit 0
fi
unmount() { mountpoint -q "$MNT" && umount -l "$MNT" || true; }
E2E_AT_EXIT+=(unmount)

check "a primary with 6 MB of events, and a replica on a 4 MiB disk"
start_esd "$TMP/primary"
PRIMARY=$ES_SERVER
big=$(head -c 20000 /dev/zero | tr '\0' a)
for i in $(seq 1 300); do echo "{\"stream\":\"big-$((i % 5))\",\"type\":\"Big\",\"data\":\"$big\"}"; done >"$TMP/big.ndjson"
assert_exit 0 "$ES" -s "$PRIMARY" append --batch 10 <"$TMP/big.ndjson"
start_esd "$MNT/replica" --role replica --follow "$PRIMARY" --initial-map-size 1048576
REPLICA=$ES_SERVER
full() { grep -q "disk full" "$ESD_LOG"; }
wait_for 30 "the replica to report a full disk" full

check "while full: it answers, and holds a prefix of the primary's log"
sleep 1
held=$("$ES" -s "$REPLICA" status | jq .head)
[ "$held" -lt 300 ] || fail "the replica holds $held events on a 4 MiB disk"
echo "the replica holds $held of 300 events: $(grep -m1 "disk full" "$ESD_LOG" | cut -c1-160)"
assert_exit 0 "$ES" -s "$REPLICA" verify
mine=$(jq -r .digest <<<"$OUT")
if [ "$held" -gt 0 ]; then
  assert_exit 0 "$ES" -s "$PRIMARY" verify --at "$held"
  assert_eq "$(jq -r .digest <<<"$OUT")" "$mine" "the primary's digest at $held"
fi
assert_exit 6 "$ES" -s "$REPLICA" append x -t T -d '{}'

check "room again: it catches up, with the primary's digest"
mount -o remount,size=64m "$MNT" || fail "cannot grow the tmpfs"
caught_up() { [ "$("$ES" -s "$REPLICA" status | jq .head)" = 300 ]; }
wait_for 60 "the replica to catch up" caught_up
assert_exit 0 "$ES" -s "$PRIMARY" verify
want=$(jq -c '{head,digest}' <<<"$OUT")
assert_exit 0 "$ES" -s "$REPLICA" verify
assert_eq "$(jq -c '{head,digest}' <<<"$OUT")" "$want" "the replica's head and digest"
stop_esd
assert_eq "$ESD_EXIT" "0" "the replica's exit status"

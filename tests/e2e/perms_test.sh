#!/usr/bin/env bash
# tests/e2e/perms_test.sh ESD ES: a data directory and its files are
# private. A fresh directory is 0700 with 0600 files (projections/ and the
# journal included); files an older esd left 0644 become 0600; a directory
# others may write is refused with the fix named; one others may read is
# used with a warning.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

mode() { stat -c %a "$1"; }

check "a fresh data directory and everything in it are private"
umask 022  # what a login shell has: esd must not rely on the caller's
data=$TMP/fresh/nested/data
start_esd "$data"
es append s --type T --data '{"a":1}' >/dev/null
printf 'def when: .state + 1;\n' >"$TMP/count.jq"
es project add count "$TMP/count.jq" >/dev/null
wait_for 10 "projections/ to exist" test -e "$data/projections/data.mdb"
assert_eq "$(mode "$data")" 700 "data directory"
assert_eq "$(mode "$data/projections")" 700 "projections/"
for f in data.mdb lock.mdb esd.lock journal projections/data.mdb projections/lock.mdb; do
  assert_eq "$(mode "$data/$f")" 600 "$f"
done
stop_esd
assert_eq "$ESD_EXIT" 0 "esd's exit status"

check "files an older esd made 0644 are made 0600 at start; a 0755 directory is used, with a warning"
chmod 0644 "$data/data.mdb" "$data/lock.mdb" "$data/esd.lock" "$data/journal" "$data/projections/data.mdb"
chmod 0755 "$data" "$data/projections"
start_esd "$data"
for f in data.mdb lock.mdb esd.lock journal projections/data.mdb; do
  assert_eq "$(mode "$data/$f")" 600 "$f after a start"
done
assert_eq "$(mode "$data/projections")" 700 "projections/ after a start"
grep -q "may be read or entered by others (mode 0755)" "$ESD_LOG" ||
  fail "no warning about a readable data directory: $(cat "$ESD_LOG")"
assert_eq "$(es read s | jq -c .data)" '{"a":1}' "the event is still there"
stop_esd

check "a directory others may write is refused, and nothing in it is touched"
chmod 0777 "$data"
before=$(md5sum "$data/data.mdb" "$data/journal")
rc=0
"$ESD" --data "$data" --listen "tcp://127.0.0.1:$(pick_port)" 2>"$TMP/refused.log" || rc=$?
assert_eq "$rc" 5 "esd's exit status on a world-writable data directory (a store that refuses to open)"
grep -q "may be written by others (mode 0777): refusing to use it; make it private with: chmod 700 $data" \
  "$TMP/refused.log" || fail "the refusal does not say why and how to fix it: $(cat "$TMP/refused.log")"
assert_eq "$(md5sum "$data/data.mdb" "$data/journal")" "$before" "the store's files"
chmod 0770 "$data"
rc=0
"$ESD" --data "$data" --listen "tcp://127.0.0.1:$(pick_port)" 2>"$TMP/refused2.log" || rc=$?
assert_eq "$rc" 5 "esd's exit status on a group-writable data directory"
check "es verify --data refuses it too"
assert_exit 1 "$ES" verify --data "$data"
assert_contains "$ERR" "may be written by others" "es verify's error"
chmod 0700 "$data"
start_esd "$data"
assert_eq "$(es read s | jq -c .data)" '{"a":1}' "after chmod 700, the store opens"
stop_esd
echo "PASS"

#!/usr/bin/env bash
# tests/e2e/powerloss_test.sh ESD ES SHIM ACK_LOAD CHECK: power loss,
# simulated. esd runs under an LD_PRELOAD shim (tests/tools/powerloss_shim.c)
# that records every write and flush to its journal and to LMDB, while four
# clients append (singles and batches of 10, ids random) and a named
# subscription moves its checkpoint; the journal is small (256 KiB), so it
# wraps many times. powerloss_check then rebuilds the files as a power loss
# could have left them at every flush (durable writes kept; of the writes
# not yet flushed: none, all, all but one, 50 random subsets, the last one
# torn at 512-byte boundaries), opens each (recovery) and requires every
# acknowledged event, the reference's chain, and a log that verifies: at
# least POWERLOSS_MIN_STATES (default 1000) states. Plain build only (the
# shim does not mix with ASan): ctest label "shim".
source "$(dirname "$0")/lib.sh"
e2e_init "$1" "$2"
SHIM=$3 ACK_LOAD=$4 CHECK=$5
data=$TMP/data

check "a store with a few events, copied as the base"
start_esd "$data" --journal-size 256K
for i in 1 2 3; do es append warm --type T --data "$i" >/dev/null; done
stop_esd
mkdir -p "$TMP/base"
cp "$data/journal" "$data/data.mdb" "$TMP/base/"

check "esd under the shim: 4 clients append, a named subscription moves"
LD_PRELOAD=$SHIM POWERLOSS_DIR=$data POWERLOSS_LOG=$TMP/writes.log start_esd "$data"
"$ACK_LOAD" load --server "$ES_SERVER" --dir "$TMP/acks" --clients 4 --seconds 3 \
  --max "${POWERLOSS_EVENTS:-4000}" || fail "ack_load failed"
es tail --name mailer --from start --until-head >/dev/null
stop_esd
assert_eq "$ESD_EXIT" 0 "esd exit status"
[ -s "$TMP/writes.log" ] || fail "the shim recorded nothing"
echo "   $(wc -c <"$TMP/writes.log") bytes of writes recorded"

check "every crash state recovers every acknowledged event"
"$CHECK" --base "$TMP/base" --log "$TMP/writes.log" --final "$data" --work "$TMP/work" \
  --min-states "${POWERLOSS_MIN_STATES:-1000}" --max-points "${POWERLOSS_MAX_POINTS:-400}" \
  --seed "${POWERLOSS_SEED:-1}" || fail "a crash state lost an acknowledged event"

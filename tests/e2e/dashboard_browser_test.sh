#!/usr/bin/env bash
# dashboard_browser_test ESD ES NODE_DIR ARTIFACTS: esd's dashboard in
# headless Chromium (tests/browser/dashboard.mjs, playwright-core and
# axe-core from npm, installed into NODE_DIR). A primary serving the
# dashboard, a replica and a read node hosting a projection: the page
# inserts an event through its form, sees it in the stream view and the
# live tail, sees every node reach it, stops the replica, sees it stopped
# and lagging while appends go on, restarts it (as systemd would: the same
# command line) and sees it catch up to an equal digest. Screenshots of each
# step stay in ARTIFACTS. Skipped (77) where Chromium or Node.js is missing.
source "$(dirname "$0")/lib.sh"
NODE_DIR=$3
ARTIFACTS=$4
e2e_init "$1" "$2"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: needs $CHROMIUM, node and npm (scripts/deps.sh)"
  exit 77
fi

check "playwright-core and axe-core (npm ci, pinned by tests/browser/package-lock.json)"
SRC=$(cd "$(dirname "$0")/../browser" && pwd)
mkdir -p "$NODE_DIR"
cp "$SRC/package.json" "$SRC/package-lock.json" "$SRC/dashboard.mjs" "$NODE_DIR/"
if ! cmp -s "$SRC/package-lock.json" "$NODE_DIR/node_modules/.installed-lock" 2>/dev/null; then
  (cd "$NODE_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"
  cp "$SRC/package-lock.json" "$NODE_DIR/node_modules/.installed-lock"
fi

check "a primary with the dashboard, a replica, a read node with a projection"
read -r HTTP RPORT <<<"$(pick_ports 2)"
start_esd "$TMP/primary" --http-listen "$HTTP"
PRIMARY=$ES_SERVER
PRIMARY_PID=$ESD_PID
REPLICA="tcp://127.0.0.1:$RPORT"
replica_cmd="exec '$ESD' --data '$TMP/replica' --listen '$REPLICA' --publish 'tcp://127.0.0.1:*' --role replica --follow '$PRIMARY' 2>>'$TMP/replica.log'"
bash -c "$replica_cmd" &
bg_track $!
start_esd "$TMP/read" --project-from "$PRIMARY"
READ=$ES_SERVER
READ_PID=$ESD_PID
printf 'def from: {category: "dash"};\ndef key: .stream;\ndef init: 0;\ndef when: .state + 1;\n' >"$TMP/clicks.jq"
es -s "$READ" project add clicks "$TMP/clicks.jq" >/dev/null
es -s "$PRIMARY" project add tally "$TMP/clicks.jq" >/dev/null # (the slider over positions)
for i in 1 2 3; do es -s "$PRIMARY" append "dash-seed-$i" --type Seeded --data "{\"i\":$i}" >/dev/null; done
wait_for 15 "the replica to follow" bash -c "'$ES' -s '$REPLICA' status 2>/dev/null | jq -e '.head == 3' >/dev/null"

check "the browser test (tests/browser/dashboard.mjs)"
rm -rf "$ARTIFACTS"
# The replica comes back as systemd would start it: the same command line,
# on its own (not waited for).
DASH_URL="http://127.0.0.1:$HTTP/" DASH_TOKEN=$(cat "$TMP/primary/http.token") REPLICA="$REPLICA" \
  RESTART_CMD="$replica_cmd" EXPECT_NODES=3 ARTIFACTS="$ARTIFACTS" CHROMIUM="$CHROMIUM" \
  timeout 200 node "$NODE_DIR/dashboard.mjs" || {
  pkill -f -- "--data $TMP/replica" # restarted by the page's test, untracked
  fail "the browser test failed (screenshots in $ARTIFACTS)"
}
ls "$ARTIFACTS"/*.png >/dev/null || fail "no screenshots in $ARTIFACTS"

check "after the browser: the replica caught up, the digests agree"
head=$(es -s "$PRIMARY" status | jq .head)
wait_for 15 "the replica at the primary's head" bash -c "'$ES' -s '$REPLICA' status | jq -e '.head == $head' >/dev/null"
assert_eq "$(es -s "$REPLICA" read --all --from "$head" --limit 1 | jq -r .id)" "$(es -s "$PRIMARY" read --all --from "$head" --limit 1 | jq -r .id)" "the last event on both"
timeout 15 "$ES" -s "$REPLICA" stop >/dev/null || fail "es stop of the replica"
stop_esd "$READ_PID"
stop_esd "$PRIMARY_PID"
echo "PASS ($(ls "$ARTIFACTS" | wc -l) screenshots in $ARTIFACTS)"

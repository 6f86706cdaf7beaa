#!/usr/bin/env bash
# tests/e2e/cluster_test.sh ESD ES TCP_PROXY [EVENTS]
#
# A primary P, replicas R1 and R2 (R2 reaches P through a TCP proxy, so
# that its link can be cut) and a projection node X (a replica of R1: a
# replica can be followed, hosting a projection) on loopback. EVENTS events (default 200,000) go to P in
# idempotent batches while, in a shuffled order (the seed is printed):
# R1, R2 and X are killed with -9 and restarted, stopped with es stop and
# restarted; R2's link is frozen (proxy SIGSTOP: a silent partition) and
# cut (proxy killed, then started again); and P itself is killed with -9
# and restarted. At the end every node's head and `es verify` digest equal
# the primary's, R2 holds every acknowledged event once, X's projection
# counts them all, and `es nodes` shows everyone following with no lag.
# Then: appends to a replica exit 6 naming the primary; es promote is
# refused while the primary answers and works once it is stopped; a
# replica refuses a primary whose history differs (esd exits 4), both when
# it is ahead of it and when their chains differ.
source "$(dirname "$0")/lib.sh"
e2e_init "$1" "$2"
PROXY=$3
EVENTS=${4:-200000}
[ -x "$PROXY" ] || fail "$PROXY is not an executable"
BATCH=2000
BATCHES=$((EVENTS / BATCH))
SEED=${CLUSTER_SEED:-$RANDOM}
RANDOM=$SEED
echo "fault order seed: $SEED (CLUSTER_SEED=$SEED replays it)"

declare -A PORT=() PID=() ARGS=()
read -r PORT[P] PORT[R1] PORT[R2] PORT[X] PORT[Q] PORT[D] PROXY_PORT < <(pick_ports 7)
P_URL=tcp://127.0.0.1:${PORT[P]}
url() { echo "tcp://127.0.0.1:${PORT[$1]}"; }

# node_start NAME [ESD ARGS...]: esd NAME on its fixed ports (request PORT,
# publisher PORT+1), data in $TMP/NAME; waits until it answers.
node_start() {
  local name=$1
  shift
  [ $# -gt 0 ] && ARGS[$name]="$*"
  ESD_COUNT=$((ESD_COUNT + 1))
  # shellcheck disable=SC2086
  "$ESD" --data "$TMP/$name" --listen "$(url "$name")" --publish "tcp://127.0.0.1:$((PORT[$name] + 1))" \
    --heartbeat 200 ${ARGS[$name]:-} 2>"$TMP/esd.$ESD_COUNT.$name.log" &
  PID[$name]=$!
  ESD_PIDS+=("${PID[$name]}")
  ESD_SERVERS[${PID[$name]}]=$(url "$name")
  wait_for 15 "$name to answer" "$ES" -s "$(url "$name")" --timeout 1 status
}
node_kill9() { kill -KILL "${PID[$1]}"; wait_pid "${PID[$1]}" 10; }
node_stop() { stop_esd "${PID[$1]}"; [ "$ESD_EXIT" -eq 0 ] || fail "$1 exited $ESD_EXIT on es stop"; }

proxy_start() {
  "$PROXY" "$PROXY_PORT:${PORT[P]}" "$((PROXY_PORT + 1)):$((PORT[P] + 1))" >"$TMP/proxy.out" 2>&1 &
  PROXY_PID=$!
  bg_track "$PROXY_PID"
  wait_for 5 "the proxy to listen" grep -q ready "$TMP/proxy.out"
}

check "starting P, R1, R2 (through a proxy) and X (a replica of R1, hosting a projection)"
node_start P
node_start R1 --role replica --follow "$P_URL"
proxy_start
node_start R2 --role replica --follow "tcp://127.0.0.1:$PROXY_PORT" \
  --follow-publish "tcp://127.0.0.1:$((PROXY_PORT + 1))"
node_start X --role replica --follow "$(url R1)"
assert_exit 0 "$ES" -s "$(url X)" project add counts builtin:counts

check "making $BATCHES batches of $BATCH events"
mkdir -p "$TMP/batches"
awk -v batches="$BATCHES" -v size="$BATCH" -v dir="$TMP/batches" 'BEGIN {
  pad = sprintf("%0150d", 0)
  for (b = 1; b <= batches; b++) {
    f = sprintf("%s/%05d.ndjson", dir, b)
    for (i = 0; i < size; i++) {
      n = (b - 1) * size + i
      printf("{\"stream\":\"c%d-%d\",\"id\":\"%08x-0000-4000-8000-%012x\",\"type\":\"T\",\"data\":{\"n\":%d,\"pad\":\"%s\"}}\n",
             n % 4, n % 50, b, i, n, pad) > f
    }
    close(f)
  }
}'

load() {  # every batch, retried through P's restart (bounded)
  local f tries
  for f in "$TMP"/batches/*.ndjson; do
    tries=0
    until "$ES" -s "$P_URL" --timeout 3 append --atomic <"$f" >/dev/null 2>>"$TMP/load.err"; do
      tries=$((tries + 1))
      [ "$tries" -lt 100 ] || { echo "batch $f failed 100 times" >&2; return 1; }
      sleep 0.2
    done
    echo "$f" >>"$TMP/load.done"
    sleep 0.25  # spread over the faults below
  done
}
load &
LOAD_PID=$!
bg_track "$LOAD_PID"

faults=(
  "kill9 R1" "stop R1" "kill9 R2" "stop R2" "kill9 X" "stop X"
  "freeze R2" "cut R2" "kill9 P"
)
for i in $(seq $((${#faults[@]} - 1)) -1 1); do  # Fisher-Yates with the seed
  j=$((RANDOM % (i + 1)))
  t=${faults[$i]}
  faults[$i]=${faults[$j]}
  faults[$j]=$t
done
for fault in "${faults[@]}"; do
  read -r what node <<<"$fault"
  check "fault: $what $node (load at $(wc -l <"$TMP/load.done" 2>/dev/null || echo 0)/$BATCHES batches)"
  case $what in
    kill9) node_kill9 "$node"; sleep 1; node_start "$node" ;;
    stop) node_stop "$node"; sleep 1; node_start "$node" ;;
    freeze) kill -STOP "$PROXY_PID"; sleep 3; kill -CONT "$PROXY_PID" ;;
    cut) kill -KILL "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; sleep 2; proxy_start ;;
  esac
  sleep 1
done
check "the load finishes"
wait_pid "$LOAD_PID" 300
[ "$WAIT_RC" -eq 0 ] || fail "the load failed: $(tail -3 "$TMP/load.err")"
assert_eq "$("$ES" -s "$P_URL" status | jq .head)" "$EVENTS" "P's head"

check "every node converges on P's head and digest"
P_VERIFY=$("$ES" -s "$P_URL" verify)
echo "P: $P_VERIFY"
assert_eq "$(jq .head <<<"$P_VERIFY")" "$EVENTS" "P's verified head"
for n in R1 R2 X; do
  at_head() { [ "$("$ES" -s "$(url "$1")" status | jq .head)" = "$EVENTS" ]; }
  wait_for 60 "$n at position $EVENTS" at_head "$n"
  V=$("$ES" -s "$(url "$n")" verify)
  assert_eq "$(jq -c '{head,digest}' <<<"$V")" "$(jq -c '{head,digest}' <<<"$P_VERIFY")" "$n's head and digest"
done

check "es verify --at: the digest of a prefix, equal on P and R2; past the head is exit 4"
assert_exit 0 "$ES" -s "$P_URL" verify --at 1000
AT_P=$OUT
assert_exit 0 "$ES" -s "$(url R2)" verify --at 1000
assert_eq "$OUT" "${AT_P/$P_URL/$(url R2)}" "R2's digest at 1000"
assert_eq "$(jq .events <<<"$OUT")" "1000" "events verified up to 1000"
assert_exit 4 "$ES" -s "$P_URL" verify --at $((EVENTS + 1))

check "R2 holds every acknowledged event once, at positions 1..$EVENTS"
"$ES" -s "$(url R2)" read --all | jq -r '[.position, .id] | @tsv' >"$TMP/r2.tsv"
assert_eq "$(wc -l <"$TMP/r2.tsv")" "$EVENTS" "events read from R2"
assert_eq "$(cut -f2 "$TMP/r2.tsv" | sort -u | wc -l)" "$EVENTS" "distinct ids on R2"
assert_eq "$(cut -f1 "$TMP/r2.tsv" | awk '$1 != NR' | wc -l)" "0" "positions out of place on R2"

check "X's projection counts every event"
counted() { [ "$("$ES" -s "$(url X)" state counts all | jq .state.events)" = "$EVENTS" ]; }
wait_for 60 "X's projection at $EVENTS events" counted

check "es nodes: everyone found from P, following, no lag"
"$ES" nodes "$P_URL" >"$TMP/nodes.ndjson"
cat "$TMP/nodes.ndjson"
assert_eq "$(wc -l <"$TMP/nodes.ndjson")" "4" "nodes found"
assert_eq "$(jq -s 'map(select(.role == "replica" and .state == "following" and .lag_events == 0)) | length' "$TMP/nodes.ndjson")" "3" "replicas following without lag"
assert_eq "$(jq -s 'map(select(.projections[0].name == "counts")) | .[0].node' "$TMP/nodes.ndjson")" "\"$(url X)\"" "the projection node"
assert_eq "$(jq -s 'map(select(.digest_at.position == '"$EVENTS"').digest_at.digest) | unique' "$TMP/nodes.ndjson" | jq -c .)" \
  "$(jq -c '[.digest]' <<<"$P_VERIFY")" "every node's digest at $EVENTS, as P's es verify"
assert_exit 0 "$ES" -o text status --cluster -s "$(url X)"
assert_contains "$OUT" "$P_URL"
assert_exit 0 "$ES" nodes --watch --interval 0.2 --count 2 "$(url R2)"
assert_eq "$(jq -s 'length' <<<"$OUT")" "8" "es nodes --watch --count 2: two rounds of 4 nodes"

check "offline verify of a stopped replica gives the same digest"
node_stop R1
assert_exit 0 "$ES" verify --data "$TMP/R1"
assert_eq "$(jq -c '{head,digest}' <<<"$OUT")" "$(jq -c '{head,digest}' <<<"$P_VERIFY")" "R1 offline"
node_start R1

check "a replica refuses appends, naming its primary (exit 6)"
assert_exit 6 "$ES" -s "$(url R1)" append s-1 -t T -d '{}'
assert_contains "$ERR" "$P_URL"

check "es promote: refused while the primary answers, done once it is stopped"
assert_exit 1 "$ES" -s "$(url R1)" promote
assert_contains "$ERR" "still answers"
node_stop P
assert_exit 0 "$ES" -s "$(url R2)" read --all --from "$EVENTS"  # reads go on from replicas
stale() { "$ES" -s "$(url R1)" status | jq -e '.follow == "connecting"' >/dev/null; }
wait_for 15 "R1 to lose its primary" stale
assert_exit 0 "$ES" -s "$(url R1)" promote
assert_eq "$(jq .head <<<"$OUT")" "$EVENTS" "promoted at"
assert_exit 0 "$ES" -s "$(url R1)" append s-1 -t T -d '{}'
assert_eq "$(jq .first_position <<<"$OUT")" "$((EVENTS + 1))" "first append to the new primary"

check "a replica refuses a primary whose history differs"
node_start Q
for i in 1 2 3; do "$ES" -s "$(url Q)" append q-$i -t Q -d "{\"i\":$i}" >/dev/null; done
node_stop R2
ARGS[R2]="--role replica --follow $(url Q)"
"$ESD" --data "$TMP/R2" --listen "$(url R2)" --heartbeat 200 ${ARGS[R2]} 2>"$TMP/esd.r2-ahead.log" &
R2_PID=$!
bg_track "$R2_PID"
wait_pid "$R2_PID" 15
assert_eq "$WAIT_RC" "4" "R2 (ahead of Q) exit"
grep -q "behind this replica's head" "$TMP/esd.r2-ahead.log" || fail "no divergence message: $(tail -3 "$TMP/esd.r2-ahead.log")"
node_start D --role replica --follow "$(url Q)"
wait_for 15 "D to copy Q" bash -c "[ \"\$('$ES' -s $(url D) status | jq .head)\" = 3 ]"
node_stop D
"$ESD" --data "$TMP/D" --listen "$(url D)" --heartbeat 200 --role replica --follow "$(url R1)" 2>"$TMP/esd.d-differs.log" &
D_PID=$!
bg_track "$D_PID"
wait_pid "$D_PID" 15
assert_eq "$WAIT_RC" "4" "D (other history than R1) exit"
grep -q "histories differ" "$TMP/esd.d-differs.log" || fail "no divergence message: $(tail -3 "$TMP/esd.d-differs.log")"
assert_exit 0 "$ES" verify --data "$TMP/D"
assert_eq "$(jq .head <<<"$OUT")" "3" "D keeps its own log"

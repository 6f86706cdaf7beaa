#!/usr/bin/env bash
# examples/cluster/cluster.sh: a primary, two replicas and a projection node
# on loopback; a load; nodes stopped and restarted one by one, with
# `es nodes` after each step. See README.md in this directory.
#
#   ./cluster.sh                 # es and esd from PATH, ports 27150..27181
#   ES=... ESD=... PORTS="p1 p2 p3 p4" ./cluster.sh
#
# Each node uses its port and the next one (requests, publisher). Data goes
# to a temporary directory, removed at the end; every node is stopped on exit.
# The nodes share one CurveZMQ key pair and take only the admin key this
# script makes (es keygen; esd(8), Security): es finds both in ES_KEY_FILE
# and ES_SERVER_KEY.
set -euo pipefail
ES=${ES:-es}
ESD=${ESD:-esd}
read -r -a ports <<<"${PORTS:-27150 27160 27170 27180}"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/es-cluster.XXXXXX")
declare -A URL=([P]=tcp://127.0.0.1:${ports[0]} [R1]=tcp://127.0.0.1:${ports[1]}
                [R2]=tcp://127.0.0.1:${ports[2]} [X]=tcp://127.0.0.1:${ports[3]})
declare -A PID=() ROLE=([P]="" [R1]="--role replica --follow ${URL[P]}"
                        [R2]="--role replica --follow ${URL[P]}" [X]="--role replica --follow ${URL[P]}")

cleanup() {
  for n in "${!PID[@]}"; do
    kill -0 "${PID[$n]}" 2>/dev/null && "$ES" -s "${URL[$n]}" --timeout 3 stop >/dev/null 2>&1
  done
  wait 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT
"$ES" keygen "$DIR/cluster" >/dev/null
"$ES" keygen "$DIR/admin" >/dev/null
echo "admin $(sed -n 's/^public-key = "\(.*\)"$/\1/p' "$DIR/admin.pub") admin" >"$DIR/allow"
export ES_KEY_FILE=$DIR/admin.key ES_SERVER_KEY=$DIR/cluster.pub

say() { printf '\n== %s\n' "$*"; }
start() {  # start NODE: esd on its port, data in $DIR/NODE; waits until it answers
  local n=$1 port=${URL[$1]##*:}
  # shellcheck disable=SC2086
  "$ESD" --data "$DIR/$n" --listen "${URL[$n]}" --publish "tcp://127.0.0.1:$((port + 1))" \
    --key-file "$DIR/cluster.key" --allow "$DIR/allow" --heartbeat 200 ${ROLE[$n]} 2>>"$DIR/$n.log" &
  PID[$n]=$!
  for _ in $(seq 1 100); do
    "$ES" -s "${URL[$n]}" --timeout 1 status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "cluster.sh: $n did not start: $(tail -2 "$DIR/$n.log")" >&2
  exit 1
}
stop() { "$ES" -s "${URL[$1]}" stop >/dev/null; wait "${PID[$1]}" || true; unset "PID[$1]"; }
nodes() { "$ES" -o text nodes "${URL[@]}"; }
load() {  # load FROM COUNT: COUNT orders over 20 streams, appended to P
  seq "$1" $(($1 + $2 - 1)) |
    awk '{ printf("{\"stream\":\"order-%d\",\"type\":\"Placed\",\"data\":{\"n\":%d,\"total\":%d}}\n", $1 % 20, $1, $1 % 97) }' |
    "$ES" -s "${URL[P]}" append >/dev/null
}
converged() {  # waits until every running node has P's head
  local head
  head=$("$ES" -s "${URL[P]}" status | jq .head)
  for _ in $(seq 1 100); do
    local behind=0
    for n in "${!PID[@]}"; do
      [ "$("$ES" -s "${URL[$n]}" status | jq .head)" = "$head" ] || behind=1
    done
    [ "$behind" -eq 0 ] && return 0
    sleep 0.1
  done
  echo "cluster.sh: nodes did not converge on $head" >&2
  exit 1
}

say "1. a primary P, replicas R1 and R2, and X: a replica hosting a projection"
for n in P R1 R2 X; do start "$n"; done
"$ES" -s "${URL[X]}" project add categories builtin:by-category >/dev/null
load 1 3000
converged
nodes

say "2. R1 stopped: the load goes on; P, R2 and X follow it"
stop R1
load 3001 3000
converged
nodes

say "3. R1 back: it catches up from its own head"
start R1
nodes
converged
nodes

say "4. P stopped: writes stop, reads and queries go on from the replicas"
stop P
if "$ES" -s "${URL[P]}" --timeout 1 append order-1 -t Placed -d '{"n":0}' >/dev/null 2>&1; then
  echo "append to the stopped primary: accepted (unexpected)"
else
  echo "append to the stopped primary: refused, exit $?"
fi
if "$ES" -s "${URL[R1]}" append order-1 -t Placed -d '{"n":0}' >/dev/null 2>"$DIR/err"; then
  echo "append to R1: accepted (unexpected)"
else
  echo "append to R1: refused, exit $? ($(sed 's/^es: error: //' "$DIR/err"))"
fi
echo "read from R2: last event at position $("$ES" -s "${URL[R2]}" read --all --backwards --limit 1 | jq .position)"
echo "query X: $("$ES" -s "${URL[X]}" state categories order | jq -c .state)"
sleep 2
nodes

say "5. P back: replicas follow it again; the load resumes"
start P
load 6001 3000
converged
nodes

say "6. every node's es verify: the same head and digest"
for n in P R1 R2 X; do
  printf '%-3s %s\n' "$n" "$("$ES" -s "${URL[$n]}" verify | jq -c '{head,digest}')"
done
digests=$(for n in P R1 R2 X; do "$ES" -s "${URL[$n]}" verify | jq -r .digest; done | sort -u | wc -l)
[ "$digests" -eq 1 ] && echo "converged: one digest on all 4 nodes" || { echo "DIVERGED: $digests digests"; exit 1; }

#!/usr/bin/env bash
# tests/e2e/cluster_example_test.sh ESD ES: runs examples/cluster/cluster.sh
# as its README does (on free ports) and checks what it shows: writes
# refused while the primary is down (exit 5) and on a replica (exit 6),
# reads and projection queries answered by replicas meanwhile, the
# primary unreachable and replicas connecting in es nodes, and one digest
# on all four nodes at the end.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EXAMPLE="$(cd "$(dirname "$0")/../../examples/cluster" && pwd)"
ports=()
while [ ${#ports[@]} -lt 4 ]; do
  p=$(pick_port)
  for q in "${ports[@]}"; do [ $((p - q)) -ge -1 ] && [ $((p - q)) -le 1 ] && continue 2; done
  ports+=("$p")
done

check "examples/cluster/cluster.sh runs to the end"
ES="$ES" ESD="$ESD" PORTS="${ports[*]}" TMPDIR="$TMP" bash "$EXAMPLE/cluster.sh" >"$TMP/out" 2>"$TMP/err" ||
  fail "cluster.sh failed: $(tail -5 "$TMP/err") $(tail -5 "$TMP/out")"
cat "$TMP/out"

check "what it shows"
out=$(cat "$TMP/out")
assert_contains "$out" "append to the stopped primary: refused, exit 5"
assert_contains "$out" "append to R1: refused, exit 6 (this node is a replica of tcp://127.0.0.1:${ports[0]}"
assert_contains "$out" "read from R2: last event at position 6000"
assert_contains "$out" 'query X: {"streams":20,"events":6000,"last_position":6000}'
step4=$(sed -n '/^== 4/,/^== 5/p' "$TMP/out")
assert_eq "$(grep -c "tcp://127.0.0.1:${ports[0]} *primary *stopped" <<<"$step4")" "1" "P stopped in step 4"
assert_eq "$(grep -c "replica *connecting *6000" <<<"$step4")" "3" "replicas connecting at 6000 in step 4"
step5=$(sed -n '/^== 5/,/^== 6/p' "$TMP/out")
assert_eq "$(grep -c "replica *following *9000 *0 *0.000" <<<"$step5")" "3" "replicas caught up in step 5"
assert_contains "$out" "converged: one digest on all 4 nodes"

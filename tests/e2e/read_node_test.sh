#!/usr/bin/env bash
# tests/e2e/read_node_test.sh ESD ES: a read node (esd --project-from) and
# a replica that never reached its primary, as a new user sees them.
#   - a replica whose primary never answered: primary_contact_s is null
#     (es status, es nodes), SEEN_S "-";
#   - a read node refuses appends with exit 6, naming the node to write to;
#   - es status says role "read", its source and the link's state;
#   - es nodes from the primary finds it; the digest column is computed
#     over the nodes that hold the log (not DIGEST@0), "-" for the read node;
#   - with its source down, es project status says the link is lost and the
#     lag unknown, the log says so once, and once again when it is back.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EXAMPLE=$(cd "$(dirname "$0")/../../examples/orders" && pwd)

check "a replica whose primary never answered: primary_contact_s null"
NOBODY="tcp://127.0.0.1:$(pick_port)"
start_esd "$TMP/lonely" --role replica --follow "$NOBODY"
LONELY=$ES_SERVER
assert_exit 0 "$ES" status
assert_eq "$(echo "$OUT" | jq -c '[.role, .primary_contact_s]')" '["replica",null]' "es status"
assert_exit 0 "$ES" nodes "$LONELY"
assert_eq "$(echo "$OUT" | jq -c "select(.node == \"$LONELY\") | .primary_contact_s")" null \
  "es nodes: primary_contact_s"
assert_exit 0 "$ES" nodes -o text "$LONELY"
assert_eq "$(echo "$OUT" | awk -v n="$LONELY" '$1 == n { print $7 }')" - "es nodes -o text: SEEN_S"
stop_esd

check "a read node refuses appends (exit 6), naming its source"
start_esd "$TMP/primary" --heartbeat 200
PRIMARY=$ES_SERVER
PRIMARY_PID=$ESD_PID
assert_exit 0 env ES="$ES" "$EXAMPLE/place-orders.sh"
HEAD=$("$ES" status | jq .head)
start_esd "$TMP/read" --project-from "$PRIMARY"
READ=$ES_SERVER
READ_LOG=$ESD_LOG
assert_exit 6 "$ES" append <<<'{"stream":"x","type":"T","data":{}}'
assert_contains "$ERR" "this node is a read node fed by $PRIMARY: append to it" "the refusal"
assert_eq "$("$ES" status | jq .head)" 0 "nothing was written on the read node"

check "es status on the read node: role read, its source and the link"
connected() { [ "$("$ES" -s "$READ" status | jq -r .source_state)" = connected ]; }
wait_for 10 "the read node to reach its source" connected
assert_exit 0 "$ES" status
assert_eq "$(echo "$OUT" | jq -c '[.role, .source, .source_head]')" "[\"read\",\"$PRIMARY\",$HEAD]" \
  "role, source, source_head"
assert_eq "$(echo "$OUT" | jq '.source_contact_s < 5 and (.source_since | test("Z$"))')" true \
  "source_contact_s and source_since"

check "es nodes from the primary finds the read node; the digest ignores it"
listed() { "$ES" -s "$PRIMARY" nodes | jq -e "select(.node == \"$READ\" and .role == \"read\")"; }
wait_for 10 "the primary to list the read node" listed
assert_exit 0 "$ES" -s "$PRIMARY" status
assert_eq "$(echo "$OUT" | jq -r ".replicas[] | select(.listen == \"$READ\") | .role")" read \
  "the primary's status lists it"
assert_exit 0 "$ES" -s "$PRIMARY" nodes -o text
assert_contains "$OUT" "DIGEST@$HEAD" "the digest column's position"
assert_eq "$(echo "$OUT" | awk -v n="$READ" '$1 == n { print $2, $3, $4, $8 }')" "read connected - -" \
  "the read node's row: ROLE STATE HEAD DIGEST"
assert_eq "$(echo "$OUT" | awk -v n="$PRIMARY" '$1 == n { print length($8) }')" 16 \
  "the primary's digest"
assert_exit 0 "$ES" -s "$READ" nodes
assert_eq "$(echo "$OUT" | jq -r 'select(.role == "primary") | .node')" "$PRIMARY" \
  "es nodes from the read node finds its source"

check "its source down: the link shows lost, the lag unknown, the log says it once"
assert_exit 0 "$ES" project add totals "$EXAMPLE/totals.jq"
caught_up() { [ "$("$ES" -s "$READ" project status totals | jq '.lag == 0 and .link == "connected"')" = true ]; }
wait_for 30 "totals to catch up" caught_up
stop_esd "$PRIMARY_PID"
lost() { [ "$("$ES" -s "$READ" project status totals | jq -r .link)" = lost ]; }
wait_for 10 "the read node to see its source lost" lost
assert_exit 0 "$ES" -s "$READ" project status totals
assert_eq "$(echo "$OUT" | jq -c '[.status, .lag, (.link_since | test("Z$"))]')" '["running",null,true]' \
  "status, lag, link_since"
assert_eq "$("$ES" -s "$READ" status | jq -r .source_state)" lost "es status: source_state"
sleep 2  # a second warning would show up now
assert_eq "$(grep -c "lost the source $PRIMARY" "$READ_LOG")" 1 "log lines on losing the source"

check "its source back: connected again, logged once"
"$ESD" --data "$TMP/primary" --listen "$PRIMARY" --publish 'tcp://127.0.0.1:*' 2>"$TMP/esd.back.log" &
ESD_PIDS+=($!)
ESD_SERVERS[$!]=$PRIMARY
wait_for 15 "the read node to see its source again" caught_up
assert_eq "$(grep -c "the source $PRIMARY is back" "$READ_LOG")" 1 "log lines on the source's return"


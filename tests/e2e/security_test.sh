#!/usr/bin/env bash
# tests/e2e/security_test.sh ESD ES: CurveZMQ keys and roles through the
# real binaries (es keygen, esd --key-file/--allow/--peer-key, es
# --key-file/--server-key, $ES_KEY_FILE, contexts), on loopback: the keys
# apply to every endpoint a node binds, loopback or not.
#   - es keygen: BASE.key 0600, BASE.pub 0644, never replaced without --force;
#     esd refuses a key file others may read and an allow-list with a bad line;
#   - a client without a key, or with a key not in the allow-list, can
#     neither read, nor append, nor subscribe, nor stop the node (exit 7, at
#     once, not after the timeout), nor follow it as a replica; each refusal
#     is in the node's log;
#   - a read key reads and subscribes but cannot append or stop; a write key
#     appends but cannot stop, promote, remove a subscription, or move a
#     checkpoint another key made; an admin key does all of it;
#   - SIGHUP reads the allow-list again: a key added gets in, one revoked is
#     refused on its next request over the same connection too;
#   - a replica with a key of its own (role replica, --peer-key) follows; a
#     hosted projection's worker and es nodes work with keys.
# security_netns.sh runs it again with the nodes on a non-loopback address
# (ES_TEST_HOST), in a network namespace of its own.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EXAMPLE=$(cd "$(dirname "$0")/../../examples/orders" && pwd)
cd "$TMP"

public_key() { sed -n 's/^public-key = "\(.*\)"$/\1/p' "$1.pub"; }

check "es keygen: a private .key, a public .pub, never replaced without --force"
for who in node ops alice bob reader rep stranger; do
  assert_exit 0 "$ES" keygen "$who"
  assert_eq "$(jq -r .public_key <<<"$OUT")" "$(public_key "$who")" "$who: the key printed"
done
assert_eq "$(stat -c %a node.key) $(stat -c %a node.pub)" "600 644" "modes"
assert_exit 1 "$ES" keygen node.key
assert_contains "$ERR" "node.key exists already (es keygen --force replaces it)" "refusal"
assert_eq "$(grep -c secret-key node.key)" 1 "node.key kept"
cp node.key keep.key
assert_exit 0 "$ES" keygen --force keep -o text
assert_contains "$OUT" "key_file:    keep.key" "text output"
cmp -s node.key keep.key && fail "keygen --force did not replace keep.key"

check "esd refuses a key file others may read, and a bad allow-list line"
chmod 644 keep.key
assert_exit 2 "$ESD" --data "$TMP/never" --key-file keep.key
assert_contains "$ERR" "keep.key holds a secret key and others may read it (mode 0644): chmod 600" "mode"
printf 'admn %s ops\n' "$(public_key ops)" >bad.allow
assert_exit 2 "$ESD" --data "$TMP/never" --key-file node.key --allow bad.allow
assert_contains "$ERR" "bad.allow:1: 'admn' is not a role (read, write, replica or admin); did you mean 'admin'?" "role"
assert_exit 2 "$ESD" --data "$TMP/never" --allow bad.allow
assert_contains "$ERR" "needs --key-file" "allow without key"
[ -e "$TMP/never" ] && fail "a refused esd made its data directory"

cat >allow <<EOF
# ROLE PUBLIC-KEY NAME
admin   $(public_key ops) ops
write   $(public_key alice) alice
write   $(public_key bob) bob
read    $(public_key reader) reader
replica $(public_key rep) replica-2
EOF
export ES_KEY_FILE=$TMP/ops.key ES_SERVER_KEY=$TMP/node.pub  # start_esd and cleanup are admin
HTTP_PORT=$(pick_port)
start_esd "$TMP/primary" --key-file node.key --allow allow --heartbeat 200 \
  --http-listen "127.0.0.1:$HTTP_PORT"
PRIMARY=$ES_SERVER PRIMARY_PID=$ESD_PID PRIMARY_LOG=$ESD_LOG
as() { # as WHO ES-ARGS...: es with WHO's key (none: no key at all)
  local who=$1
  shift
  if [ "$who" = none ]; then
    env -u ES_KEY_FILE -u ES_SERVER_KEY "$ES" -s "$PRIMARY" "$@"
  else
    env -u ES_KEY_FILE -u ES_SERVER_KEY "$ES" -s "$PRIMARY" --key-file "$who.key" --server-key node.pub "$@"
  fi
}
assert_exit 0 as alice append orders-1 <<<'{"type":"OrderPlaced","data":{"total":5}}'

check "no key, or a key not allowed: exit 7 at once for every request"
for who in none stranger; do
  started=$SECONDS
  assert_exit 7 as "$who" --timeout 20 read orders-1
  [ $((SECONDS - started)) -lt 10 ] || fail "$who: the refusal took $((SECONDS - started)) s"
  assert_exit 7 as "$who" append orders-1 <<<'{"type":"OrderPlaced","data":{}}'
  assert_exit 7 as "$who" status
  assert_exit 7 as "$who" stop
  assert_exit 7 as "$who" --timeout 3 tail --from start -n 1
done
assert_contains "$ERR" "refused this client's key $(public_key stranger)" "stranger's error"
assert_exit 7 as none status
assert_contains "$ERR" "give es --key-file FILE and --server-key KEY" "no key's error"
assert_exit 5 env -u ES_KEY_FILE -u ES_SERVER_KEY "$ES" -s "$PRIMARY" --timeout 3 --key-file alice.key \
  --server-key "$(public_key alice)" status
assert_contains "$ERR" "the handshake with $PRIMARY failed: is $(public_key alice) its public key" "wrong server key"
assert_contains "$(cat "$PRIMARY_LOG")" "its key $(public_key stranger) is not in the allow-list" "log: key"
assert_contains "$(cat "$PRIMARY_LOG")" "it came without keys" "log: no key"
assert_eq "$(as ops status | jq .head)" 1 "nothing was appended"
metric() { curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
[ "$(metric 'esd_refused_connections_total{reason="key"}')" -ge 1 ] || fail "/metrics: refused keys"
[ "$(metric 'esd_refused_connections_total{reason="handshake"}')" -ge 1 ] ||
  fail "/metrics: failed handshakes"
assert_eq "$(metric 'esd_refused_connections_total{reason="full"}')" 0 "/metrics: refused when full"

check "a replica with a key not allowed copies nothing"
ES_SERVER_KEY=$TMP/stranger.pub start_esd "$TMP/intruder" --role replica --follow "$PRIMARY" \
  --key-file stranger.key --peer-key node.pub --allow allow
INTRUDER=$ES_SERVER INTRUDER_PID=$ESD_PID
wait_for 10 "the primary to log the intruder" grep -qF "its key $(public_key stranger) is not in the allow-list" \
  "$PRIMARY_LOG"
sleep 1
assert_eq "$(ES_SERVER_KEY=$TMP/stranger.pub "$ES" -s "$INTRUDER" status | jq .head)" 0 "intruder's head"
assert_eq "$(as ops status | jq '.replicas | length')" 0 "replicas the primary lists"
ES_SERVER_KEY=$TMP/stranger.pub stop_esd "$INTRUDER_PID"

check "a read key reads and subscribes, but cannot append or stop"
assert_exit 0 as reader read orders-1
assert_eq "$(jq -r .type <<<"$OUT")" OrderPlaced "read"
as reader --timeout 5 tail orders-1 -n 1 >"$TMP/tail.out" 2>&1 &
TAIL=$!
bg_track "$TAIL"
sleep 0.5
assert_exit 0 as alice append orders-1 <<<'{"type":"OrderShipped","data":{}}'
wait_pid "$TAIL" 10
assert_eq "$WAIT_RC" 0 "the reader's tail"
assert_eq "$(jq -r .type "$TMP/tail.out")" OrderShipped "delivered live to a read key"
assert_exit 7 as reader append orders-1 <<<'{"type":"OrderPlaced","data":{}}'
assert_contains "$ERR" "refused: the key reader has the read role; append needs write" "read key append"
assert_exit 7 as reader stop
assert_contains "$(cat "$PRIMARY_LOG")" "refused append from $ESD_HOST: the key reader has the read role" "log: role"
[ "$(metric 'esd_requests_total{kind="append",outcome="permission-denied"}')" -ge 1 ] ||
  fail "/metrics: the refused append"

check "a write key appends, but cannot stop, remove or move another key's checkpoint"
assert_exit 7 as alice stop
assert_contains "$ERR" "the key alice has the write role; stop needs admin" "write key stop"
assert_exit 0 as alice tail orders-1 --name mailer --from start -n 1
assert_exit 7 as bob tail orders-1 --name mailer -n 1
assert_contains "$ERR" "the checkpoint mailer belongs to the key alice; the key bob may move only its own" "bob"
assert_eq "$OUT" "" "bob was refused before an event was printed"
assert_exit 7 as reader tail orders-1 --name mailer -n 1
assert_eq "$OUT" "" "a read key too"
assert_eq "$(as ops subscriptions | jq -r 'select(.name == "mailer") | .position')" 1 "mailer stayed"
assert_exit 0 as alice tail orders-1 --name mailer -n 1
assert_eq "$(jq .position <<<"$OUT")" 2 "alice resumed her own"
assert_exit 7 as alice subscriptions rm mailer
assert_exit 7 as alice delete orders-1
assert_contains "$ERR" "the key alice has the write role; stream rules needs admin" "write key delete"
assert_exit 7 as alice retention orders-1 --max-count 5
assert_exit 0 as alice retention orders-1
assert_eq "$OUT" '{"stream":"orders-1"}' "a write key reads the rules"
assert_contains "$(cat "$PRIMARY_LOG")" "refused checkpoint set from $ESD_HOST (key bob)" "log: owner"
assert_contains "$(cat "$PRIMARY_LOG")" "refused stop from $ESD_HOST: the key alice" "log: stop"
assert_exit 0 as ops subscriptions rm mailer

check "SIGHUP reads the allow-list again: a key added gets in, one revoked is out"
echo "read $(public_key stranger) late-reader" >>allow
sed -i "/ alice$/d" allow
kill -HUP "$PRIMARY_PID"
wait_for 10 "the reload" grep -qF "allow-list read again (6 keys)" "$PRIMARY_LOG"
assert_exit 0 as stranger status
assert_exit 7 as alice append orders-1 <<<'{"type":"OrderPlaced","data":{}}'
assert_contains "$ERR" "refused this client's key" "revoked"

check "a replica with its own key (role replica) follows; es nodes sees both"
ES_SERVER_KEY=$TMP/rep.pub start_esd "$TMP/replica" --role replica --follow "$PRIMARY" \
  --key-file rep.key --peer-key node.pub --allow allow
REPLICA=$ES_SERVER REPLICA_PID=$ESD_PID
replica_at() { [ "$(ES_SERVER_KEY=$TMP/rep.pub "$ES" -s "$REPLICA" status | jq .head)" = "$1" ]; }
wait_for 15 "the replica to catch up" replica_at 2
assert_exit 0 env ES_SERVER_KEY="$TMP/rep.pub" "$ES" -s "$REPLICA" verify
assert_exit 0 as ops nodes
assert_eq "$(jq -r 'select(.role == "primary") | .node' <<<"$OUT")" "$PRIMARY" "es nodes: primary"
assert_eq "$(as reader status | jq -r '.replicas[0].listen')" "$REPLICA" "the primary lists it"

check "a hosted projection's worker reads with the node's key"
assert_exit 7 as bob project add totals "$EXAMPLE/totals.jq"
assert_exit 0 as ops project add totals "$EXAMPLE/totals.jq"
totals_at() { [ "$(as reader project status totals | jq .position)" = "$1" ]; }
wait_for 15 "the projection to catch up" totals_at 2

check "a read node (a replica key) hosts a projection over the primary's log, and reports to it"
ES_SERVER_KEY=$TMP/rep.pub start_esd "$TMP/readnode" --project-from "$PRIMARY" --key-file rep.key \
  --peer-key node.pub --allow allow
READNODE=$ES_SERVER READNODE_PID=$ESD_PID
on_readnode() { env -u ES_KEY_FILE -u ES_SERVER_KEY "$ES" -s "$READNODE" --key-file ops.key --server-key rep.pub "$@"; }
assert_exit 0 on_readnode project add totals "$EXAMPLE/totals.jq"
readnode_totals_at() { [ "$(on_readnode project status totals | jq .position)" = "$1" ]; }
wait_for 15 "the read node's projection to catch up" readnode_totals_at 2
listed_read_node() { [ "$(as reader status | jq -r '.replicas[] | select(.role == "read") | .listen')" = "$READNODE" ]; }
wait_for 10 "the primary to list the read node" listed_read_node
ES_SERVER_KEY=$TMP/rep.pub stop_esd "$READNODE_PID"

check "a named context carries the keys"
export XDG_CONFIG_HOME=$TMP/config
assert_exit 0 "$ES" context add keyed -s "$PRIMARY" --key-file reader.key --server-key node.pub
assert_contains "$(cat "$TMP/config/es/contexts/keyed.toml")" "server-key = '$(public_key node)'" \
  "the context keeps the server's key itself"
assert_eq "$(stat -c %a "$TMP/config/es/contexts/keyed.toml")" 600 "context mode"
assert_exit 0 env -u ES_SERVER -u ES_KEY_FILE -u ES_SERVER_KEY "$ES" --context keyed read orders-1
assert_exit 7 env -u ES_SERVER -u ES_KEY_FILE -u ES_SERVER_KEY "$ES" --context keyed stop
assert_exit 2 "$ES" context add half -s "$PRIMARY" --key-file reader.key
assert_contains "$ERR" "--key-file and --server-key go together" "half a context"

check "promotion needs an admin key; an admin key stops the nodes"
stop_esd "$PRIMARY_PID"
assert_eq "$ESD_EXIT" 0 "primary's exit"
on_replica() { # on_replica WHO ES-ARGS...
  local who=$1
  shift
  env -u ES_KEY_FILE -u ES_SERVER_KEY "$ES" -s "$REPLICA" --key-file "$who.key" --server-key rep.pub "$@"
}
assert_exit 7 on_replica bob promote
assert_contains "$ERR" "the key bob has the write role; promote needs admin" "write key promote"
assert_exit 7 on_replica reader stop
assert_exit 0 on_replica ops promote
assert_eq "$(on_replica reader status | jq -r .role)" primary "promoted"
ES_SERVER_KEY=$TMP/rep.pub stop_esd "$REPLICA_PID"

#!/usr/bin/env bash
# dashboard_api_test: the dashboard's JSON API (esd --http-listen), with
# curl, against a primary and a replica: every endpoint answers what es
# answers; bad input (invalid JSON, an unknown field or stream, a wrong
# expected version, a bad number) gets a clear error and changes nothing;
# changes need the admin token; another Host or Origin is refused; the
# live stream delivers events and views, and its number is capped so that
# /livez still answers; a replica stopped from the API shows as stopped
# with its lag and how to start it again.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v curl >/dev/null || fail "curl is needed (scripts/deps.sh)"

read -r HTTP RPORT <<<"$(pick_ports 2)"
URL="http://127.0.0.1:$HTTP"
start_esd "$TMP/p" --http-listen "$HTTP"
PRIMARY=$ES_SERVER
PRIMARY_PID=$ESD_PID
TOKEN=$(cat "$TMP/p/http.token")
# code and body of a request, the code on a line of its own
call() { curl -s -m 10 -w '\n%{http_code}' "$@"; }
body() { sed '$d' <<<"$1"; }
code() { tail -n1 <<<"$1"; }
post() { call -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "${@:3}" "$URL$1" -d "$2"; }
expect_error() { # RESPONSE CODE ERROR-CODE TEXT WHAT
  assert_eq "$(code "$1")" "$2" "$5: HTTP status"
  assert_eq "$(body "$1" | jq -r .code)" "$3" "$5: code"
  assert_contains "$(body "$1" | jq -r .error)" "$4" "$5: message"
}
head_now() { es status | jq -r .head; }

check "the token file is private; the page and its files are served"
assert_eq "$(stat -c %a "$TMP/p/http.token")" 600 "http.token's mode"
grep -q "the dashboard: http://127.0.0.1:$HTTP/, its admin token in $TMP/p/http.token" "$ESD_LOG" || fail "esd's log does not say where the dashboard and its token are"
[ ${#TOKEN} -ge 32 ] || fail "a short token: $TOKEN"
r=$(call "$URL/")
assert_eq "$(code "$r")" 200 "GET /"
assert_contains "$r" "<html lang=\"en\">" "the page"
for f in app.js app.css; do assert_eq "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/$f")" 200 "/$f"; done
assert_contains "$(curl -s -m 5 -D - -o /dev/null "$URL/")" "Content-Security-Policy: default-src 'self'" "the page's CSP"

check "append: the result as es append prints it; the event reads back the same through es and the API"
r=$(post /api/append '{"stream":"order-1","type":"Placed","data":{"total":5},"expect":"no-stream"}')
assert_eq "$(code "$r")" 200 "append"
assert_eq "$(body "$r")" '{"stream":"order-1","count":1,"first_version":0,"last_version":0,"first_position":1,"last_position":1}' "the result"
post /api/append '{"stream":"order-1","type":"Paid","data":{"total":5}}' >/dev/null
post /api/append '{"stream":"invoice-1","type":"Sent","data":{}}' >/dev/null
assert_eq "$(call "$URL/api/events/2" | sed '$d')" "$(es read order-1 --from 1 --limit 1)" "one event"
assert_eq "$(body "$(call "$URL/api/streams/order-1")" | jq -c '.events[]')" "$(es read order-1 | jq -c .)" "a stream's events"
r=$(call "$URL/api/streams/order-1?direction=backward&limit=1")
assert_eq "$(body "$r" | jq -c '[.events[].version, .next]')" "[1,0]" "backward, a page of one, and where the next starts"
assert_eq "$(body "$(call "$URL/api/streams")" | jq -c '[.streams[].stream]')" '["invoice-1","order-1"]' "the streams"
assert_eq "$(body "$(call "$URL/api/log?category=order")" | jq -c '[.events[].position]')" "[1,2]" "the log by category"
assert_eq "$(body "$(call "$URL/api/log?type=Sent")" | jq -c '[.events[].position]')" "[3]" "the log by type"
assert_eq "$(body "$(call "$URL/api/log?stream=order-1&direction=backward")" | jq -c '[.events[].position]')" "[2,1]" "the log of one stream, newest first"
assert_eq "$(body "$(call "$URL/api/status")" | jq -c '{role, head}')" '{"role":"primary","head":3}' "the status"

check "bad input: a clear error that names it, and nothing stored"
expect_error "$(post /api/append '{"stream":"order-1","type":"Paid","data":{total:5}}')" 400 invalid-argument "not valid JSON" "invalid JSON"
expect_error "$(post /api/append '{"stream":"order-1","tpye":"Paid"}')" 400 invalid-argument 'unknown field "tpye"' "a typo"
expect_error "$(post /api/append '{"stream":"order-1"}')" 400 invalid-argument "type is missing" "no type"
expect_error "$(post /api/append '{"stream":"order-1","type":"Paid","expect":"no-stream"}')" 409 wrong-expected-version "expected no-stream" "a conflict"
assert_eq "$(body "$(post /api/append '{"stream":"order-1","type":"Paid","expect":0}')" | jq .current_version)" 1 "a conflict's current version"
expect_error "$(post /api/append '{"stream":"order-1","type":"Paid","expect":"sometimes"}')" 400 invalid-argument "sometimes" "a bad expectation"
expect_error "$(call "$URL/api/streams/nope-9")" 404 not-found "nope-9" "an unknown stream"
expect_error "$(call "$URL/api/events/99")" 404 not-found "no event at position 99" "an unknown position"
expect_error "$(call "$URL/api/log?limit=ten")" 400 invalid-argument 'limit: "ten" is not a whole number' "a bad limit"
expect_error "$(call "$URL/api/log?limit=5000")" 400 invalid-argument "between 1 and 1000" "a limit too big"
expect_error "$(call "$URL/api/log?direction=up")" 400 invalid-argument "neither forward nor backward" "a bad direction"
expect_error "$(call "$URL/api/projections/nope/states")" 404 not-found "nope" "an unknown projection"
assert_eq "$(head_now)" 3 "the head after the refusals"

check "changes need the admin token; another Host or Origin is refused"
expect_error "$(call -X POST "$URL/api/append" -d '{"stream":"x-1","type":"T"}')" 401 unauthorized "admin token" "no token"
expect_error "$(call -X POST -H 'Authorization: Bearer wrong-token-wrong-token' "$URL/api/append" -d '{"stream":"x-1","type":"T"}')" 401 unauthorized "admin token" "a wrong token"
expect_error "$(call -H "Host: evil.example:$HTTP" "$URL/api/status")" 403 forbidden "evil.example" "another Host (DNS rebinding)"
expect_error "$(post /api/append '{"stream":"x-1","type":"T"}' -H 'Origin: http://evil.example')" 403 forbidden "another origin" "another Origin"
assert_eq "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/api/append")" 405 "GET of a change"
assert_eq "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" --data-binary @<(head -c 1100000 /dev/zero | tr '\0' 'x') "$URL/api/append")" 413 "a body over 1 MiB"
assert_eq "$(head_now)" 3 "the head after the refused changes"

check "projections and their states"
printf 'def from: {category: "order"};\ndef key: .stream;\ndef init: 0;\ndef when: .state + 1;\n' >"$TMP/count.jq"
es project add count "$TMP/count.jq" >/dev/null
wait_for 10 "count to reach the head" bash -c "curl -s '$URL/api/projections' | jq -e '.projections[0].lag == 0 and .projections[0].status == \"running\"' >/dev/null"
assert_eq "$(body "$(call "$URL/api/projections/count/states")" | jq -c '[.states[] | {key, state}]')" '[{"key":"order-1","state":2}]' "the states"
check "states at a position: folded by a worker, as es state --at gives them"
assert_eq "$(body "$(call "$URL/api/projections/count/states?at=0")" | jq -c .states)" "[]" "the states before the first event"
for at in 1 2 3; do
  assert_eq "$(body "$(call "$URL/api/projections/count/states?at=$at")" | jq -c '.states[]')" "$(es state count --at "$at" | jq -c .)" "the states at $at"
done
assert_eq "$(body "$(call "$URL/api/projections/count/states?at=1&key=order-1")" | jq -c '[.position, .states]')" '[1,[{"key":"order-1","state":1}]]' "one key at 1"
expect_error "$(call "$URL/api/projections/count/states?at=x")" 400 invalid-argument 'at: "x" is not a whole number' "a bad position"
expect_error "$(call "$URL/api/projections/nope/states?at=1")" 404 not-found "nope" "an unknown projection at a position"
printf 'def from: {category: "order"};\ndef key: .stream;\ndef init: 0;\ndef when: if .event.version == 1 then error("not the second") else .state end;\n' >"$TMP/second.jq"
es project add second "$TMP/second.jq" >/dev/null
expect_error "$(call "$URL/api/projections/second/states?at=3")" 422 projection-failed "event at position 2 (Paid in order-1): not the second" "a failing reducer"
es project rm second >/dev/null

check "another node's projections: a read node's, listed with its node, its states now and at a position"
start_esd "$TMP/read" --project-from "$PRIMARY"
READ=$ES_SERVER
READ_PID=$ESD_PID
export ES_SERVER=$PRIMARY
es -s "$READ" project add count "$TMP/count.jq" >/dev/null
wait_for 15 "the read node's count in the list" bash -c "curl -s '$URL/api/projections' | jq -e --arg r '$READ' '.projections[] | select(.node == \$r and .name == \"count\" and .lag == 0)' >/dev/null"
assert_eq "$(body "$(call "$URL/api/projections")" | jq -c '[.projections[] | {name, local}]')" '[{"name":"count","local":true},{"name":"count","local":false}]' "both counts"
assert_eq "$(body "$(call "$URL/api/projections/count/states?node=$READ")" | jq -c .states)" '[{"key":"order-1","state":2}]' "the read node's states"
assert_eq "$(body "$(call "$URL/api/projections/count/states?node=$READ&at=1")" | jq -c .states)" '[{"key":"order-1","state":1}]' "the read node's states at 1"
expect_error "$(call "$URL/api/projections/count/states?node=tcp://6.6.6.6:1")" 404 not-found "no node tcp://6.6.6.6:1 in this cluster" "a node elsewhere"
stop_esd "$READ_PID"

check "the live stream: events as they commit (filtered), the node's status and the nodes"
subscribers=$(es status | jq .subscribers) # (the projection's)
curl -s -N -m 6 "$URL/api/live?category=order" >"$TMP/live" &
live_pid=$!
sleep 1.5
post /api/append '{"stream":"invoice-2","type":"Sent"}' >/dev/null
post /api/append '{"stream":"order-2","type":"Placed"}' >/dev/null
wait "$live_pid" || true
assert_eq "$(grep -A1 '^event: event' "$TMP/live" | sed -n 's/^data: //p' | jq -c '[.stream, .position]')" '["order-2",5]' "the live events"
grep -q '^event: nodes' "$TMP/live" || fail "no nodes view in the live stream: $(head -5 "$TMP/live")"
grep -q '^event: status' "$TMP/live" || fail "no status in the live stream"

check "at most 4 live streams; /livez answers beside them"
# (a stream sees its client gone at its next write, within a second; each
# is a subscriber of the node)
wait_for 5 "the last live stream to end" bash -c "[ \"\$('$ES' status | jq .subscribers)\" = $subscribers ]"
pids=()
for i in 1 2 3 4; do
  curl -s -N -m 8 "$URL/api/live" >"$TMP/live.$i" &
  pids+=($!)
done
sleep 1.5
expect_error "$(call "$URL/api/live")" 503 busy "live views are open already" "a fifth"
assert_eq "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$URL/livez")" 200 "/livez with 4 live streams open"
assert_eq "$(code "$(call "$URL/api/status")")" 200 "the API with 4 live streams open"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait_for 10 "a live stream to be free again" bash -c "[ \"\$(curl -s -m 2 -o /dev/null -w '%{http_code}' --max-time 1 '$URL/api/live')\" != 503 ]"

check "the nodes: a replica appears, agrees, is stopped from the API, lags, and comes back"
REPLICA="tcp://127.0.0.1:$RPORT"
"$ESD" --data "$TMP/r" --listen "$REPLICA" --publish "tcp://127.0.0.1:*" --role replica --follow "$PRIMARY" 2>"$TMP/replica.log" &
REPLICA_PID=$!
bg_track $REPLICA_PID
nodes() { curl -s -m 5 "$URL/api/nodes"; }
wait_for 15 "the replica to be listed and caught up" bash -c "curl -s '$URL/api/nodes' | jq -e --arg r '$REPLICA' '.nodes[] | select(.node == \$r and .lag_events == 0)' >/dev/null"
assert_eq "$(curl -s -m 5 "$URL/api/heads" | jq -c --arg r "$REPLICA" '[.nodes[] | select(.node == $r) | {role, head}]')" "[{\"role\":\"replica\",\"head\":$(head_now)}]" "the replica's head now (/api/heads)"
sleep 1.1 # a fresh view (the nodes' view is kept for a second)
assert_eq "$(nodes | jq -r '[.nodes[] | .digest_at.digest // empty] | unique | length')" 1 "one digest at the common head"
expect_error "$(post /api/stop '{"node":"tcp://6.6.6.6:1"}')" 404 not-found "no node tcp://6.6.6.6:1 in this cluster" "stopping a stranger"
expect_error "$(post /api/stop '{"nod":"x"}')" 400 invalid-argument '{"node": "ENDPOINT"}' "a bad stop body"
r=$(post /api/stop "{\"node\":\"$REPLICA\"}")
assert_eq "$(code "$r")" 200 "stop"
assert_contains "$(body "$r" | jq -r .restart)" "esd --data $TMP/r --listen $REPLICA" "how it comes back"
wait_pid "$REPLICA_PID" 15
assert_eq "$WAIT_RC" 0 "the replica's exit status"
for i in 1 2 3; do post /api/append "{\"stream\":\"order-3\",\"type\":\"T$i\"}" >/dev/null; done
sleep 1.1
row=$(nodes | jq -c --arg r "$REPLICA" '.nodes[] | select(.node == $r)')
assert_eq "$(jq -r .state <<<"$row")" stopped "the replica's state"
assert_eq "$(jq -r .lag_events <<<"$row")" 3 "its lag while stopped"
assert_contains "$(jq -r .restart <<<"$row")" "--role replica --follow $PRIMARY" "its restart line"
"$ESD" --data "$TMP/r" --listen "$REPLICA" --publish "tcp://127.0.0.1:*" --role replica --follow "$PRIMARY" 2>>"$TMP/replica.log" &
REPLICA_PID=$!
bg_track $REPLICA_PID
wait_for 15 "the replica to catch up again" bash -c "curl -s '$URL/api/nodes' | jq -e --arg r '$REPLICA' '.nodes[] | select(.node == \$r and .state == \"following\" and .lag_events == 0)' >/dev/null"
timeout 15 "$ES" -s "$REPLICA" stop >/dev/null || fail "es stop of the replica"
wait_pid "$REPLICA_PID" 15

check "esd stops with live streams open"
curl -s -N -m 20 "$URL/api/live" >/dev/null &
sleep 1
stop_esd "$PRIMARY_PID"
assert_eq "$ESD_EXIT" 0 "esd's exit status"
check "--http-token-file: the token is the file's first line; a missing or short one is a usage error"
assert_exit 2 "$ESD" --data "$TMP/t" --listen "tcp://127.0.0.1:$RPORT" --http-listen "$HTTP" --http-token-file "$TMP/none"
assert_contains "$ERR" "--http-token-file $TMP/none: cannot read it (No such file or directory)" "a missing file"
echo short >"$TMP/short.token"
assert_exit 2 "$ESD" --data "$TMP/t" --listen "tcp://127.0.0.1:$RPORT" --http-listen "$HTTP" --http-token-file "$TMP/short.token"
assert_contains "$ERR" "must have at least 16 characters (it has 5)" "a short token"
[ ! -e "$TMP/t" ] || fail "a refused start made the data directory"
echo "a-token-of-our-own-choosing" >"$TMP/own.token"
start_esd "$TMP/t" --http-listen "$HTTP" --http-token-file "$TMP/own.token"
[ ! -e "$TMP/t/http.token" ] || fail "http.token written beside a --http-token-file"
assert_eq "$(code "$(call -X POST -H 'Authorization: Bearer a-token-of-our-own-choosing' "$URL/api/append" -d '{"stream":"t-1","type":"T"}')")" 200 "an append with the file's token"
stop_esd
echo "PASS"

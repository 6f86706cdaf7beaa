#!/usr/bin/env bash
# tests/e2e/orders_test.sh ESD ES: the orders example, run as its README
# says, on a fresh node, prints the merchant's totals; es replay is
# deterministic, honours --to and --key, and a failing reducer or a broken
# file is reported with what and where.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EXAMPLE=$(cd "$(dirname "$0")/../../examples/orders" && pwd)
start_esd "$TMP/data"

check "the README's steps print the merchant's totals"
assert_exit 0 env ES="$ES" "$EXAMPLE/place-orders.sh"
assert_eq "$OUT" "placed 5 orders" "place-orders.sh"
assert_exit 0 "$ES" replay "$EXAMPLE/totals.jq"
assert_eq "$OUT" '{"key":"apple","state":{"quantity":14,"total":6.95}}
{"key":"pear","state":{"quantity":3,"total":2.3}}' "es replay totals.jq"
first=$OUT
assert_exit 0 "$ES" replay "$EXAMPLE/totals.jq" --key pear
assert_eq "$(echo "$OUT" | jq .state.total)" 2.3 "pear's total"

check "the same log gives the same bytes; unrelated events change nothing"
es append user-1 -t UserRegistered -d '{"email":"a@example.com"}' >/dev/null
assert_exit 0 "$ES" replay "$EXAMPLE/totals.jq"
assert_eq "$OUT" "$first" "a second replay"

check "--to and --from bound the positions read"
assert_exit 0 "$ES" replay "$EXAMPLE/totals.jq" --to 2
assert_eq "$OUT" '{"key":"apple","state":{"quantity":3,"total":1.5}}
{"key":"pear","state":{"quantity":2,"total":1.5}}' "replay --to 2"
assert_exit 0 "$ES" replay "$EXAMPLE/totals.jq" --from 5
assert_eq "$OUT" '{"key":"apple","state":{"quantity":1,"total":0.45}}' "replay --from 5"
assert_exit 4 "$ES" replay "$EXAMPLE/totals.jq" --key kiwi
assert_contains "$ERR" "no partition kiwi" "a missing partition"

check "a reducer that fails names the event and jq's message"
cat >"$TMP/bad.jq" <<'JQ'
def from: {category: "order"};
def key: .data.product;
def when: if .event.data.quantity > 5 then error("too many: \(.event.data.quantity)") else .state + 1 end;
JQ
assert_exit 1 "$ES" replay "$TMP/bad.jq"
assert_contains "$ERR" "event at position 3 (OrderPlaced in order-3)" "the failing event"
assert_contains "$ERR" "too many: 10" "jq's message"
assert_eq "$OUT" "" "nothing printed on failure"

check "a broken file is refused with jq's message and line"
printf 'def key: .data.product;\ndef when: .state +;\n' >"$TMP/syntax.jq"
assert_exit 1 "$ES" replay "$TMP/syntax.jq"
assert_contains "$ERR" "line 2" "the syntax error's line"
printf 'def key: .data.product;\n' >"$TMP/noreducer.jq"
assert_exit 1 "$ES" replay "$TMP/noreducer.jq"
assert_contains "$ERR" "defines no reducer" "a file without a reducer"
assert_exit 1 "$ES" replay "$TMP/missing.jq"
assert_contains "$ERR" "cannot read projection file" "a missing file"
printf 'def key: .data.quantity;\ndef when: .state;\n' >"$TMP/numkey.jq"
assert_exit 1 "$ES" replay "$TMP/numkey.jq"
assert_contains "$ERR" "key gave 3, not a string" "a key that is not a string"

#!/usr/bin/env bash
# tests/e2e/users_test.sh ESD ES: the users example, run as its README says,
# on a fresh node: users.sh appends what each command means and nothing when
# the node refuses it (exit status 3); directory.jq and emails.jq print the
# registry's read models, the same bytes on every replay; `users.sh demo`
# does the README's steps in one go.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EXAMPLE=$(cd "$(dirname "$0")/../../examples/users" && pwd)
start_esd "$TMP/data" --subject-keys "$TMP/keys"

users_sh() { ES="$ES" "$EXAMPLE/users.sh" "$@"; }
head_position() { "$ES" status | jq .head; }

# The read models after the README's steps: Alan changed his address, Grace
# was deleted and forgotten (her events read as redacted: no name, no
# address); emails.jq still names the users who gave up an address (its
# documented limit).
DIRECTORY='{"key":"1","state":{"name":"Ada Lovelace","email":"ada@example.com","deleted":false}}
{"key":"2","state":{"name":"Alan Turing","email":"alan@turing.example","deleted":false}}
{"key":"3","state":{"deleted":true}}'
EMAILS='{"key":"ada@example.com","state":"1"}
{"key":"alan@example.com","state":"2"}
{"key":"alan@turing.example","state":"2"}'

# assert_replay FILE EXPECTED [ARGS...]: es replay prints exactly EXPECTED.
assert_replay() {
  local file=$1 expected=$2
  shift 2
  assert_exit 0 "$ES" replay "$EXAMPLE/$file" "$@"
  assert_eq "$OUT" "$expected" "es replay $file $*"
}

check "the README's steps register, change and delete users"
assert_exit 0 users_sh register 1 "Ada Lovelace" ada@example.com
assert_eq "$OUT" "registered user 1" "register 1"
assert_exit 0 users_sh register 2 "Alan Turing" alan@example.com
assert_eq "$OUT" "registered user 2" "register 2"
assert_exit 0 users_sh register 3 'Grace "Amazing Grace" Hopper' grace@example.com
assert_eq "$OUT" "registered user 3" "register 3 (a name with quotes)"
assert_exit 0 users_sh change-email 2 alan@turing.example
assert_eq "$OUT" "user 2's email is now alan@turing.example" "change-email 2"
assert_exit 0 users_sh delete 3
assert_eq "$OUT" "deleted user 3" "delete 3"
assert_eq "$(head_position)" 6 "the head after five commands (and the forget)"

check "registering an id twice exits 3 and stores nothing"
assert_exit 3 users_sh register 1 "Ada King" ada.king@example.com
assert_contains "$ERR" "expected no-stream, but it is at version 0" "es's message"
assert_contains "$ERR" "users.sh: user 1 is already registered" "users.sh's message"
assert_eq "$OUT" "" "stdout of a refused registration"
assert_exit 0 "$ES" read user-1
assert_eq "$(jq -c '{version, type, data}' <<<"$OUT")" \
  '{"version":0,"type":"UserRegistered","data":{"name":"Ada Lovelace","email":"ada@example.com"}}' \
  "user-1 after the refused registration"

check "changing or deleting a user who does not exist exits 3 and stores nothing"
assert_exit 3 users_sh change-email 4 nobody@example.com
assert_contains "$ERR" "expected exists, but it is at no stream" "es's message"
assert_contains "$ERR" "users.sh: no user 4" "users.sh's message"
assert_eq "$OUT" "" "stdout of a refused change"
assert_exit 3 users_sh delete 4
assert_contains "$ERR" "users.sh: no user 4" "users.sh's message on delete"
assert_exit 4 "$ES" read user-4
assert_eq "$(head_position)" 6 "the head after the refused commands"

check "bad arguments are a usage error"
assert_exit 2 users_sh register 5 "No Email"
assert_contains "$ERR" "usage:" "the usage message"
assert_exit 2 users_sh rename 1 Ada

check "the directory and the lookup by email"
assert_replay directory.jq "$DIRECTORY"
assert_replay emails.jq "$EMAILS"
assert_exit 0 "$ES" replay "$EXAMPLE/emails.jq" --key alan@example.com
assert_eq "$(jq -r .state <<<"$OUT")" 2 "who took alan@example.com"
assert_exit 0 "$ES" replay "$EXAMPLE/directory.jq" --key 2
assert_eq "$(jq -r .state.email <<<"$OUT")" alan@turing.example "user 2's address now"
assert_exit 4 "$ES" replay "$EXAMPLE/emails.jq" --key nobody@example.com

check "the same log gives the same bytes; events the projections do not read change nothing"
es append user-1 -t PasswordReset -d '{}' >/dev/null
es append order-1 -t OrderPlaced -d '{"product":"apple","quantity":1,"unit_price":0.5,"email":"x@example.com"}' >/dev/null
for file in directory.jq emails.jq; do
  "$ES" replay "$EXAMPLE/$file" >"$TMP/first.out"
  "$ES" replay "$EXAMPLE/$file" >"$TMP/second.out"
  cmp -s "$TMP/first.out" "$TMP/second.out" || fail "two replays of $file differ"
done
assert_replay directory.jq "$DIRECTORY"
assert_replay emails.jq "$EMAILS"

check "--to shows the registry as it was before the change and the deletion"
assert_replay directory.jq '{"key":"1","state":{"name":"Ada Lovelace","email":"ada@example.com","deleted":false}}
{"key":"2","state":{"name":"Alan Turing","email":"alan@example.com","deleted":false}}
{"key":"3","state":{"deleted":true}}' --to 3
assert_replay emails.jq '{"key":"ada@example.com","state":"1"}
{"key":"alan@example.com","state":"2"}' --to 3

check "a forgotten user's data is redacted wherever it is read, and no file holds it"
assert_exit 0 "$ES" read user-3
assert_eq "$(jq -c .data <<<"$OUT" | sort -u)" '{"$redacted":true}' "user-3's events"
assert_exit 0 "$ES" read '$subjects'
assert_eq "$(jq -c .data <<<"$OUT")" '{"subject":"user-3"}' "the forget, recorded"
if grep -raq -e 'grace@example' -e 'Amazing Grace' "$TMP/data" "$TMP/keys"; then
  fail "a file of the node still holds Grace's data"
fi

check "users.sh demo does the README's steps on a fresh node"
start_esd "$TMP/demo" --subject-keys "$TMP/demo-keys"
assert_exit 0 users_sh demo
assert_eq "$OUT" "registered user 1
registered user 2
registered user 3
user 2's email is now alan@turing.example
deleted user 3
registering user 1 again exited with status 3" "users.sh demo"
assert_contains "$ERR" "users.sh: user 1 is already registered" "the demo's refused registration"
assert_replay directory.jq "$DIRECTORY"
assert_replay emails.jq "$EMAILS"

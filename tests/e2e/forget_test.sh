#!/usr/bin/env bash
# tests/e2e/forget_test.sh ESD ES: GDPR erasure through the real binaries.
# A primary with a subject key store and hosted projections (the users
# example's, keyed by email address), and a replica with a key store of its
# own: the users example registers users (their data stored sealed),
# a backup is made, users.sh delete forgets one; then the user reads as
# redacted on both nodes, the projections are rebuilt without the address,
# and after es compact no file of either node (journal and projections/
# included) nor of their key stores holds the address, the name or the key;
# a node restored from the backup reads the user as redacted too. A read
# node (--project-from the primary) hosting the same projections rebuilds
# them by itself when it finds the forget in its source's log, also when it
# was down at the forget; after es compact its directory holds nothing of
# her either.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EXAMPLE=$(cd "$(dirname "$0")/../../examples/users" && pwd)

# (CPU limits for the projections' rebuilds: two workers compile at once,
# slowly under ASan.)
start_esd "$TMP/p" --subject-keys "$TMP/pk" --heartbeat 200 \
  --projection-start-cpu 10000 --projection-event-cpu 10000
P=$ES_SERVER
PID_P=$ESD_PID
start_esd "$TMP/r" --subject-keys "$TMP/rk" --role replica --follow "$P" --heartbeat 200
R=$ES_SERVER
PID_R=$ESD_PID
export ES_SERVER=$P
users_sh() { ES="$ES" "$EXAMPLE/users.sh" "$@" >/dev/null || fail "users.sh $*"; }
head_of() { "$ES" -s "$1" status | jq .head; }
caught_up() { [ "$(head_of "$R")" = "$(head_of "$P")" ]; }
# hex FILE: its bytes as one line of hex digits.
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }

start_esd "$TMP/rn" --project-from "$P" --heartbeat 200 \
  --projection-start-cpu 10000 --projection-event-cpu 10000
RN=$ES_SERVER
PID_RN=$ESD_PID
export ES_SERVER=$P
for node in "$P" "$RN"; do
  assert_exit 0 "$ES" -s "$node" project add emails "$EXAMPLE/emails.jq"
  assert_exit 0 "$ES" -s "$node" project add directory "$EXAMPLE/directory.jq"
done
users_sh register 1 "Ada Lovelace" ada@example.com
users_sh register 3 'Grace "Amazing Grace" Hopper' grace@example.com
users_sh change-email 3 grace.hopper@example.com
has_state() { [ "$("$ES" state "$1" "$2" 2>/dev/null | jq -c .state)" = "$3" ]; }
wait_for 20 "the emails projection to know Grace" has_state emails grace.hopper@example.com '"3"'
wait_for 10 "the replica to catch up" caught_up
rn_knows_grace() { ES_SERVER=$RN has_state emails grace.hopper@example.com '"3"'; }
wait_for 20 "the read node's emails projection to know Grace" rn_knows_grace
rn_holds_grace() { grep -raq 'Amazing Grace' "$TMP/rn/projections"; }
wait_for 10 "the read node's projections to hold Grace (or this test proves nothing)" rn_holds_grace

check "sealed at rest: the log holds no personal data, readers see it"
assert_exit 0 "$ES" -s "$R" read user-3
assert_eq "$(jq -r .data.email <<<"$OUT" | paste -sd' ')" "grace@example.com grace.hopper@example.com" \
  "the replica opens it with the key it copied"
for dir in "$TMP/p" "$TMP/r"; do
  if grep -raq -e 'grace@example' -e 'Amazing Grace' "$dir"/data.mdb "$dir"/journal; then
    fail "$dir holds Grace's data in the clear"
  fi
done
assert_eq "$(ls "$TMP/pk" | wc -l)" 2 "a key per subject on the primary"
assert_eq "$(ls "$TMP/rk" | wc -l)" 2 "and on the replica"
p_holds_grace() { grep -raq 'Amazing Grace' "$TMP/p/projections"; }
wait_for 10 "the projections to hold Grace (or this test proves nothing)" p_holds_grace

check "a backup before the forget"
assert_exit 0 "$ES" backup "$TMP/backup"

ls "$TMP/pk" >"$TMP/keys.before"
for f in $(cat "$TMP/keys.before"); do hex "$TMP/pk/$f" >"$TMP/hex.$f"; done
users_sh delete 3
GRACE_KEY=$(comm -23 "$TMP/keys.before" <(ls "$TMP/pk"))
[ -n "$GRACE_KEY" ] || fail "no key file went away on the primary"
[ ! -e "$TMP/rk/$GRACE_KEY" ] || fail "the replica kept Grace's key"
KEY_HEX=$(cat "$TMP/hex.$GRACE_KEY")
[ ${#KEY_HEX} = 64 ] || fail "Grace's key was not 32 bytes"


check "after es forget: redacted on both nodes, and the projections rebuilt"
wait_for 10 "the replica to catch up" caught_up
for node in "$P" "$R"; do
  assert_exit 0 "$ES" -s "$node" read user-3
  assert_eq "$(jq -c .data <<<"$OUT" | sort -u)" '{"$redacted":true}' "user-3 on $node"
done
assert_eq "$("$ES" read user-1 | jq -r .data.email)" ada@example.com "Ada is still there"
forgot_grace() { ! "$ES" state emails grace.hopper@example.com >/dev/null 2>&1 && has_state directory 3 '{"deleted":true}'; }
wait_for 20 "the projections to be rebuilt without Grace" forgot_grace
assert_contains "$(cat "$ESD_LOG" "$TMP"/esd.*.log)" "its key is destroyed" "the nodes log the forget"
rn_forgot_grace() { ES_SERVER=$RN forgot_grace; }
wait_for 20 "the read node's projections to be rebuilt without Grace" rn_forgot_grace
assert_contains "$(cat "$TMP"/esd.*.log)" "projection emails: rebuilding without the events of a forgotten subject" \
  "the read node logs its rebuild"

check "a read node that was down at a forget rebuilds when it is back"
users_sh register 5 "Mary Jackson" mary@example.com
rn_knows_mary() { ES_SERVER=$RN has_state emails mary@example.com '"5"'; }
wait_for 20 "the read node's emails projection to know Mary" rn_knows_mary
stop_esd "$PID_RN"
users_sh delete 5
start_esd "$TMP/rn" --project-from "$P" --heartbeat 200 \
  --projection-start-cpu 10000 --projection-event-cpu 10000
RN=$ES_SERVER
PID_RN=$ESD_PID
export ES_SERVER=$P
rn_forgot_mary() {
  ! "$ES" -s "$RN" state emails mary@example.com >/dev/null 2>&1 &&
    ES_SERVER=$RN has_state directory 5 '{"deleted":true}'
}
wait_for 20 "the read node's projections to be rebuilt without Mary" rn_forgot_mary

check "es compact on both nodes: no file holds her data or her key"
stop_esd "$PID_RN"
stop_esd "$PID_R"
stop_esd "$PID_P"
assert_exit 0 "$ES" compact --data "$TMP/p"
[ "$(jq .journal_bytes_zeroed <<<"$OUT")" -gt 0 ] || fail "the journal was not zeroed"
assert_exit 0 "$ES" compact --data "$TMP/r"
assert_exit 0 "$ES" compact --data "$TMP/rn"
for dir in "$TMP/p" "$TMP/r" "$TMP/rn" "$TMP/pk" "$TMP/rk"; do
  if grep -rlaq -e 'grace@example' -e 'grace.hopper@example' -e 'Amazing Grace' "$dir"; then
    fail "$(grep -rla -e 'grace' -e 'Amazing Grace' "$dir") still holds Grace's data"
  fi
  while IFS= read -r -d '' file; do
    case "$(hex "$file")" in *"$KEY_HEX"*) fail "$file holds Grace's key" ;; esac
  done < <(find "$dir" -type f -print0)
done
assert_exit 0 "$ES" verify --data "$TMP/p"
P_DIGEST=$(jq -r .digest <<<"$OUT")
assert_exit 0 "$ES" verify --data "$TMP/r"
assert_eq "$(jq -r .digest <<<"$OUT")" "$P_DIGEST" "one digest on both nodes"

check "the compacted nodes start again and go on"
start_esd "$TMP/p" --subject-keys "$TMP/pk"
P=$ES_SERVER
PID_P=$ESD_PID
start_esd "$TMP/r" --subject-keys "$TMP/rk" --role replica --follow "$P"
R=$ES_SERVER
export ES_SERVER=$P
users_sh register 4 "Katherine Johnson" kj@example.com
wait_for 10 "the replica to catch up" caught_up
assert_eq "$("$ES" -s "$R" read user-4 | jq -r .data.email)" kj@example.com "a new user on the replica"
assert_eq "$("$ES" read user-3 | jq -c .data | sort -u)" '{"$redacted":true}' "Grace after the restart"

check "a node restored from the backup made before the forget reads her as redacted"
assert_exit 0 "$ES" restore "$TMP/backup" "$TMP/restored"
start_esd "$TMP/restored" --subject-keys "$TMP/pk"
assert_exit 0 "$ES" read user-3
assert_eq "$(jq -c .data <<<"$OUT" | sort -u)" '{"$redacted":true}' "user-3 from the backup"
assert_eq "$("$ES" read user-1 | jq -r .data.email)" ada@example.com "Ada from the backup"

#!/usr/bin/env bash
# tests/e2e/subscriptions_test.sh ESD ES: es subscriptions and es subscriptions rm.
#   - a line per named subscription, in natural order (sub-2 before sub-10),
#     then a line per group with its 64 slots summarized and its live members;
#   - rm NAME and rm --group NAME delete them, for good (after a restart
#     too); exit 4 for a name with nothing under it; a group with a live
#     member is refused.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
start_esd "$TMP/data"
for i in 1 2 3 4 5; do echo "{\"stream\":\"s-$i\",\"type\":\"T\",\"data\":{}}"; done |
  "$ES" append >/dev/null
for n in sub-10 sub-2 sub-1; do assert_exit 0 timeout 20 "$ES" tail --name "$n" --from start --until-head; done
assert_exit 0 timeout 20 "$ES" tail --group billing --from start --until-head

check "a line per subscription, natural order; a line per group"
assert_exit 0 "$ES" subscriptions
assert_eq "$(echo "$OUT" | jq -r '.name // .group' | paste -sd' ')" "sub-1 sub-2 sub-10 billing" "the rows"
assert_eq "$(echo "$OUT" | jq -c 'select(.group == "billing")')" \
  '{"group":"billing","slots":64,"position_min":5,"position_max":5,"lag":0,"members":0}' "the group's row"

check "a group with a live member: listed with it, not removed"
"$ES" tail --group live --from start >/dev/null 2>"$TMP/member.err" &
MEMBER=$!
bg_track $MEMBER
has_member() { "$ES" subscriptions | jq -e 'select(.group == "live" and .members == 1)'; }
wait_for 10 "the live group's member" has_member
assert_exit 1 "$ES" subscriptions rm --group live
assert_contains "$ERR" "group live has 1 live member" "the refusal"
kill -TERM $MEMBER
wait_pid $MEMBER 10

check "rm NAME, rm --group NAME; exit 4 when there is nothing of that name"
assert_exit 0 "$ES" subscriptions rm sub-2
assert_eq "$OUT" '{"name":"sub-2","removed":1}' "rm sub-2"
assert_exit 0 "$ES" subscriptions rm --group live
assert_eq "$OUT" '{"group":"live","removed":64}' "rm --group live"
assert_exit 4 "$ES" subscriptions rm sub-2
assert_contains "$ERR" "no subscription named sub-2" "rm of a removed name"
assert_exit 4 "$ES" subscriptions rm --group nope
assert_exit 1 "$ES" subscriptions rm '$group/billing/3'
assert_exit 2 "$ES" subscriptions rm
assert_eq "$("$ES" subscriptions | jq -r '.name // .group' | paste -sd' ')" "sub-1 sub-10 billing" "after rm"

check "the removals outlast a restart"
stop_esd
start_esd "$TMP/data"
assert_eq "$("$ES" subscriptions | jq -r '.name // .group' | paste -sd' ')" "sub-1 sub-10 billing" \
  "after a restart"

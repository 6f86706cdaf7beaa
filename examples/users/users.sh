#!/usr/bin/env bash
# examples/users/users.sh: the write side (CQRS) of a user registry. Each
# command appends one event to the user's own stream, user-<id>, with an
# expectation on that stream, so the node itself refuses a command that does
# not fit (es exit status 3): registering an id twice, or changing or
# deleting a user that was never registered. The personal data (name,
# address) names its data subject, user-<id>, in the event's metadata, so
# the node stores it sealed with that user's key (esd --subject-keys), and
# delete forgets the user: es forget destroys the key, and every copy of
# the user's data reads as {"$redacted":true} from then on.
#   ./users.sh register ID NAME EMAIL   # UserRegistered {"name","email"}
#   ./users.sh change-email ID EMAIL    # EmailChanged {"email"}
#   ./users.sh delete ID                # UserDeleted {}, then es forget user-ID
#   ./users.sh demo                     # the README's steps, on a fresh node
# It talks to $ES_SERVER (or es's default node) through ${ES:-es}; when es
# fails, it exits with es's status.
set -euo pipefail
ES=${ES:-es}
PROG=$(basename "$0")

usage() {  # the command lines of the comment above
  { echo "usage:"; sed -n 's/^#   \.\//  /p' "$0"; } >&2
  exit 2
}

# append ID EXPECT TYPE DATA CONFLICT: appends one event to user-ID. A
# conflict is explained in the registry's terms (CONFLICT) after es's own
# message, and es's exit status is returned as it is. Callers write
# `append ... || return`: set -e does not act inside a function called
# from `||` (as demo does), and the command must not go on to say it
# succeeded.
append() {
  local id=$1 expect=$2 type=$3 data=$4 conflict=$5 rc=0
  "$ES" append "user-$id" --expect "$expect" -t "$type" -d "$data" \
    --metadata "{\"\$subject\":\"user-$id\"}" >/dev/null || rc=$?
  if [ "$rc" -eq 3 ]; then echo "$PROG: $conflict" >&2; fi
  return "$rc"
}

# jq builds the data, so names and addresses with quotes or backslashes
# stay valid JSON.
register() {  # register ID NAME EMAIL
  append "$1" no-stream UserRegistered \
    "$(jq -nc --arg name "$2" --arg email "$3" '{name: $name, email: $email}')" \
    "user $1 is already registered" || return
  echo "registered user $1"
}

change_email() {  # change_email ID EMAIL
  append "$1" exists EmailChanged "$(jq -nc --arg email "$2" '{email: $email}')" \
    "no user $1" || return
  echo "user $1's email is now $2"
}

delete() {  # delete ID
  append "$1" exists UserDeleted '{}' "no user $1" || return
  "$ES" forget "user-$1" >/dev/null || return
  echo "deleted user $1"
}

# The README's steps in one go. The second registration of id 1 is meant to
# fail: the demo shows its exit status and goes on.
demo() {
  register 1 "Ada Lovelace" ada@example.com
  register 2 "Alan Turing" alan@example.com
  register 3 'Grace "Amazing Grace" Hopper' grace@example.com
  change_email 2 alan@turing.example
  delete 3
  local rc=0
  register 1 "Ada King" ada.king@example.com || rc=$?
  echo "registering user 1 again exited with status $rc"
}

main() {
  local cmd=${1:-}
  [ $# -gt 0 ] && shift
  case "$cmd:$#" in
    register:3) register "$@" ;;
    change-email:2) change_email "$@" ;;
    delete:1) delete "$@" ;;
    demo:0) demo ;;
    *) usage ;;
  esac
}

main "$@"

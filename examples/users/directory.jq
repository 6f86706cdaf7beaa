# examples/users/directory.jq: the user directory, one partition per user,
# keyed by the user's id (the stream user-<id> without "user-"). An es
# projection (es(1), PROJECTIONS). A deleted user keeps a partition (a
# projection cannot remove one) whose state says "deleted": true; users.sh
# delete forgets the user, so its events read as {"$redacted":true} and the
# node rebuilds its projections: the state keeps no name or address.
def from: {category: "user", types: ["UserRegistered", "EmailChanged", "UserDeleted"]};
def key: .stream | ltrimstr("user-");
def redacted: .event.data."$redacted" == true;
def when_UserRegistered:
  if redacted then {deleted: true} else .event.data | {name: .name, email: .email, deleted: false} end;
def when_EmailChanged:
  if redacted then .state else .event.data.email as $email | .state | .email = $email end;
def when_UserDeleted: .state | .deleted = true;

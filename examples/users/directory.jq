# examples/users/directory.jq: the user directory, one partition per user,
# keyed by the user's id (the stream user-<id> without "user-"). An es
# projection (es(1), PROJECTIONS). A deleted user keeps a partition (a
# projection cannot remove one) whose state says "deleted": true.
def from: {category: "user", types: ["UserRegistered", "EmailChanged", "UserDeleted"]};
def key: .stream | ltrimstr("user-");
def when_UserRegistered: .event.data | {name: .name, email: .email, deleted: false};
def when_EmailChanged: .event.data.email as $email | .state | .email = $email;
def when_UserDeleted: .state | .deleted = true;

# examples/users/emails.jq: a lookup by email address, one partition per
# address, whose state is the id of the user who last took that address
# (by registering with it or changing to it). An es projection (es(1),
# PROJECTIONS).
#
# Its limit: an address a user gave up keeps naming that user. An event
# updates only its own partition, and EmailChanged's is the new address;
# UserDeleted carries no address at all. So this answers "who took this
# address last", not "who has it now": check the answer against
# directory.jq (README.md shows how).
def from: {category: "user", types: ["UserRegistered", "EmailChanged"]};
# A forgotten user's events read as {"$redacted":true}: no address, no
# partition.
def key: .data.email // empty;
def user_id: .event.stream | ltrimstr("user-");
def when_UserRegistered: user_id;
def when_EmailChanged: user_id;

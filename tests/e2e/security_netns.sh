#!/usr/bin/env bash
# tests/e2e/security_netns.sh ESD ES: security_test.sh again, with every
# node bound to a non-loopback address (10.99.0.1), as esd(8) tells a node
# that other hosts reach to be: keys are then required, and every refusal
# of security_test.sh must hold there too. It runs in a network namespace of
# its own (unshare --net), where that address sits on the namespace's own
# loopback device: nothing outside the namespace can reach the nodes.
# Skipped (exit 77) where no namespace can be made (not root, no unshare).
set -u
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v ip >/dev/null 2>&1 || ! unshare --net true 2>/dev/null; then
  echo "SKIP: cannot make a network namespace here (needs root, unshare and ip)"
  exit 77
fi
exec unshare --net bash -c '
  ip link set lo up && ip addr add 10.99.0.1/32 dev lo || exit 1
  ES_TEST_HOST=10.99.0.1 exec bash "$0" "$@"' "$here/security_test.sh" "$@"

#!/usr/bin/env bash
# tests/e2e/unit_test.sh ESD BUILD_DIR SOURCE_DIR: the systemd units.
# `systemd-analyze verify` accepts esd.service as configured for install
# (BUILD_DIR/systemd/esd.service) and the replica example
# (examples/esd-replica.service), and `systemd-analyze security --offline=yes`
# rates each 2.0 or lower. verify wants ExecStart's binary and the
# Documentation= pages to exist: each copy names the built esd, and MANPATH
# the built pages. Runs offline: no systemd as PID 1 is needed.
set -euo pipefail
ESD=$(realpath "${1:?usage: $0 ESD BUILD_DIR SOURCE_DIR}")
BUILD=${2:?}
SRC=${3:?}
command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze is needed (scripts/deps.sh)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/es-e2e-unit.XXXXXX")
trap 'rc=$?; rm -rf "$TMP"; [ $rc -eq 0 ] && echo "PASS unit_test" || echo "FAIL unit_test" >&2; exit $rc' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export LC_ALL=C SYSTEMD_LOG_COLOR=0 SYSTEMD_COLORS=0

mkdir -p "$TMP/man/man8" "$TMP/units"
for page in "$BUILD"/man/*.[0-9]; do
  section=${page##*.}
  mkdir -p "$TMP/man/man$section"
  cp "$page" "$TMP/man/man$section/"
done
export MANPATH=$TMP/man

# check UNIT_FILE: verify (no output, exit 0) and a score of 2.0 or lower.
check() {
  local unit=$1 name
  name=$(basename "$unit")
  echo "-- $name"
  grep -q '^Type=notify$' "$unit" || fail "$name: not Type=notify"
  # The binary as built, where the unit names the installed one.
  sed -E "s|^ExecStart=[^ ]*/esd |ExecStart=$ESD |" "$unit" >"$TMP/units/$name"
  grep -q "^ExecStart=$ESD " "$TMP/units/$name" || fail "$name: no ExecStart=.../esd"
  local out rc=0
  out=$(systemd-analyze verify "$TMP/units/$name" 2>&1) || rc=$?
  [ "$rc" -eq 0 ] && [ -z "$out" ] || fail "$name: systemd-analyze verify (exit $rc): $out"
  out=$(systemd-analyze security --offline=yes "$TMP/units/$name" 2>&1) || true
  local score
  score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
  [ -n "$score" ] || fail "$name: no score in: $out"
  echo "   exposure $score"
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "$name: exposure $score is above 2.0:
$(grep '^[-✗]' <<<"$out")"
}

check "$BUILD/systemd/esd.service"
grep -q '^ExecStart=/.*/esd --config /etc/esd/esd.toml$' "$BUILD/systemd/esd.service" ||
  fail "esd.service does not start esd with --config /etc/esd/esd.toml: $(grep ExecStart "$BUILD/systemd/esd.service")"
check "$SRC/examples/esd-replica.service"

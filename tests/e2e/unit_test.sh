#!/usr/bin/env bash
# tests/e2e/unit_test.sh ESD ES SYSCALL_FILTER BUILD_DIR SOURCE_DIR: the
# systemd units, offline (no systemd as PID 1 is needed).
#   - `systemd-analyze verify` accepts esd.service as configured for install
#     (BUILD_DIR/systemd/esd.service) and the replica example
#     (examples/esd-replica.service), and `systemd-analyze security
#     --offline=yes` rates each 2.0 or lower. verify wants ExecStart's
#     binary and the Documentation= pages to exist: each copy names the
#     built esd, and MANPATH the built pages.
#   - esd under the unit's SystemCallFilter= (its lines applied as systemd
#     does, with tests/tools/syscall_filter: anything else is SIGSYS) serves,
#     and runs a hosted projection, whose worker is esd again with its own
#     seccomp filter.
#   - esd takes STATE_DIRECTORY (what StateDirectory= gives it) as its
#     default data directory.
source "$(dirname "$0")/lib.sh"
FILTER=${3:?usage: $0 ESD ES SYSCALL_FILTER BUILD_DIR SOURCE_DIR}
BUILD=${4:?}
SRC=${5:?}
e2e_init "$1" "$2"
ESD=$(realpath "$ESD")
command -v systemd-analyze >/dev/null || fail "systemd-analyze is needed (scripts/deps.sh)"
export LC_ALL=C SYSTEMD_LOG_COLOR=0 SYSTEMD_COLORS=0

for page in "$BUILD"/man/*.[0-9]; do
  section=${page##*.}
  mkdir -p "$TMP/man/man$section"
  cp "$page" "$TMP/man/man$section/"
done
export MANPATH=$TMP/man
mkdir -p "$TMP/units"

# unit UNIT_FILE: verify (no output, exit 0) and a score of 2.0 or lower.
unit() {
  local unit=$1 name out rc=0 score
  name=$(basename "$unit")
  check "$name: systemd-analyze verify and security"
  grep -q '^Type=notify$' "$unit" || fail "$name: not Type=notify"
  # The binary as built, where the unit names the installed one.
  sed -E "s|^ExecStart=[^ ]*/esd |ExecStart=$ESD |" "$unit" >"$TMP/units/$name"
  grep -q "^ExecStart=$ESD " "$TMP/units/$name" || fail "$name: no ExecStart=.../esd"
  out=$(systemd-analyze verify "$TMP/units/$name" 2>&1) || rc=$?
  [ "$rc" -eq 0 ] && [ -z "$out" ] || fail "$name: systemd-analyze verify (exit $rc): $out"
  out=$(systemd-analyze security --offline=yes "$TMP/units/$name" 2>&1) || true
  score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
  [ -n "$score" ] || fail "$name: no score in: $out"
  echo "   exposure $score"
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "$name: exposure $score is above 2.0:
$(grep '^[-✗]' <<<"$out")"
}

unit "$BUILD/systemd/esd.service"
grep -q '^ExecStart=/.*/esd --config /etc/esd/esd.toml$' "$BUILD/systemd/esd.service" ||
  fail "esd.service does not start esd with --config /etc/esd/esd.toml: $(grep ExecStart "$BUILD/systemd/esd.service")"
unit "$SRC/examples/esd-replica.service"
cmp -s <(grep '^SystemCallFilter=' "$BUILD/systemd/esd.service") \
  <(grep '^SystemCallFilter=' "$SRC/examples/esd-replica.service") ||
  fail "the two units' SystemCallFilter= differ"

check "esd under esd.service's SystemCallFilter= serves and runs a hosted projection"
# The groups, as this systemd knows them: "@group: member member ...".
systemd-analyze syscall-filter --no-pager | awk '
  /^@/ { g = $1; next }
  /^ *#/ { next }
  NF && g { m[g] = m[g] " " $1 }
  END { for (k in m) print k ":" m[k] }' >"$TMP/groups"
# The unit's lines in order: the first is an allow list; a later "~" line
# takes its calls out, a later plain line adds them (systemd.exec(5)).
grep '^SystemCallFilter=' "$BUILD/systemd/esd.service" | cut -d= -f2- | awk -v groups="$TMP/groups" '
  BEGIN { while ((getline l < groups) > 0) { split(l, kv, ":"); m[kv[1]] = kv[2] } }
  function expand(x, on,   n, i, parts) {
    if (x !~ /^@/) { allowed[x] = on; return }
    n = split(m[x], parts, " ")
    for (i = 1; i <= n; i++) expand(parts[i], on)
  }
  { on = 1; line = $0; if (line ~ /^~/) { on = 0; sub(/^~/, "", line) }
    n = split(line, words, " "); for (i = 1; i <= n; i++) expand(words[i], on) }
  END { for (c in allowed) if (allowed[c]) print c }' | sort >"$TMP/allowed"
echo "   $(wc -l <"$TMP/allowed") system calls allowed"
grep -qx execve "$TMP/allowed" || fail "the filter has no execve: $(head -c 300 "$TMP/allowed")"
grep -qx mount "$TMP/allowed" && fail "the filter allows mount (@privileged is out)"
cat >"$TMP/esd-filtered" <<SH
#!/bin/sh
exec "$FILTER" "$TMP/allowed" "$ESD" "\$@"
SH
chmod +x "$TMP/esd-filtered"
ESD=$TMP/esd-filtered
start_esd "$TMP/data"
for i in 1 2 3; do
  es append "order-$i" -t OrderPlaced -d "{\"product\":\"p$i\",\"quantity\":2,\"unit_price\":0.25}" >/dev/null
done
assert_exit 0 "$ES" project add totals "$SRC/examples/orders/totals.jq"
caught_up() { [ "$("$ES" project status totals | jq -r '"\(.status) \(.position)"')" = "running 3" ]; }
wait_for 20 "the projection at position 3 (its worker not killed by SIGSYS)" caught_up
assert_exit 0 "$ES" state totals
stop_esd
assert_eq "$ESD_EXIT" 0 "esd's exit status"

check "STATE_DIRECTORY (the unit's StateDirectory=) is the default data directory"
ESD=$(realpath "$1")
(
  export STATE_DIRECTORY=$TMP/state:$TMP/other
  exec "$ESD" --listen "ipc://$TMP/state.sock"
) 2>"$TMP/esd.state.log" &
pid=$!
ESD_PIDS+=("$pid")
ESD_SERVERS[$pid]=ipc://$TMP/state.sock
export ES_SERVER=ipc://$TMP/state.sock
wait_for 15 "esd on STATE_DIRECTORY" "$ES" --timeout 1 status
[ -f "$TMP/state/data.mdb" ] || fail "no store in \$STATE_DIRECTORY's first directory: $(ls "$TMP")"
[ ! -e "$TMP/other" ] || fail "esd made the second directory of STATE_DIRECTORY"
stop_esd "$pid"
assert_eq "$ESD_EXIT" 0 "esd's exit status"

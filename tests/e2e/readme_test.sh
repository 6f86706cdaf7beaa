#!/usr/bin/env bash
# tests/e2e/readme_test.sh ESD ES README
#
# Runs the README's console blocks (```console) in order and compares what
# each command prints with the text the README shows under it.
#
# - A line "$ CMD" is a command; the lines after it, up to the next "$ " or
#   the end of the block, are its output (stdout and stderr, as a terminal
#   shows them). A line "..." stands for any further lines. A command
#   line ending in a backslash goes on on the next.
# - The commands run from the repository's root (examples/... resolve) in
#   one bash session (as a reader's terminal), so that cd, export and
#   `echo $?` work as typed across blocks, with
#   es and esd the binaries under test. The first blocks talk to a fresh
#   node on a free port ($ES_SERVER) with its own data directory; a block
#   that starts its own nodes gets its fixed ports (27150, 27160) replaced by
#   free ones, in its commands and its outputs alike.
# - Each command has 30 s; a block that overruns fails, naming the command.
# - Outputs are compared after normalizing what differs run to run: UUIDs,
#   times, chain digests, seconds and rates (JSON keys ending in _s, and
#   decimals in text tables).
# - A block right after a line "<!-- not run -->" is skipped (tails that
#   never end, background members): such blocks are few, and counted.
source "$(dirname "$0")/lib.sh"
e2e_init "$1" "$2"
readme=$3
root=$(cd "$(dirname "$readme")" && pwd)

mkdir -p "$TMP/bin"
ln -s "$(cd "$(dirname "$ESD")" && pwd)/$(basename "$ESD")" "$TMP/bin/esd"
ln -s "$(cd "$(dirname "$ES")" && pwd)/$(basename "$ES")" "$TMP/bin/es"

# The blocks: one file per block, blocks/N, and blocks/N.skip for one not run.
mkdir -p "$TMP/blocks"
awk -v dir="$TMP/blocks" '
  /^<!-- not run -->$/ { skip_next = 1; next }
  /^```console$/ { n++; on = 1; file = dir "/" n; if (skip_next) printf "" > (file ".skip"); skip_next = 0; printf "" > file; next }
  on && /^```$/ { on = 0; close(file); next }
  # A command continued with a trailing backslash is joined into one line.
  on && cont { sub(/^ +/, ""); line = line " " $0; if (line ~ /\\$/) { sub(/ *\\$/, "", line); next } cont = 0; print line > file; next }
  on && /^\$ .*\\$/ { line = $0; sub(/ *\\$/, "", line); cont = 1; next }
  on { print > file; next }
  /[^ ]/ { skip_next = 0 }
' "$readme"
blocks=$(find "$TMP/blocks" -name '[0-9]*' ! -name '*.skip' | wc -l)
[ "$blocks" -gt 5 ] || fail "found only $blocks console blocks in $readme"

start_esd "$TMP/node"
node_server=$ES_SERVER
# Free ports for a block's own nodes, each with the next one free too (its
# publisher), and apart from each other.
read -r port_a port_b < <(pick_ports 2)

# normalize < TEXT: masks what differs from run to run.
normalize() {
  sed -E \
    -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<uuid>/g' \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)/<time>/g' \
    -e 's/\b[0-9a-f]{32}\b/<digest>/g' \
    -e 's/\b[0-9a-f]{16}\b/<digest>/g' \
    -e 's/("[a-z_]+_s":)-?[0-9.]+/\1<s>/g' \
    -e '/^[{]/!s/\b[0-9]+\.[0-9]+\b/<n>/g' \
    -e 's/ +$//'
}

# matches EXPECTED ACTUAL: whether the actual output (files) is what the
# README shows, a last line "..." matching any further lines.
matches() {
  local want=$1 got=$2 lines
  if [ "$(tail -n 1 "$want")" = "..." ]; then
    lines=$(($(wc -l <"$want") - 1))
    [ "$(wc -l <"$got")" -ge "$lines" ] || return 1
    cmp -s <(head -n "$lines" "$want") <(head -n "$lines" "$got")
  else
    cmp -s "$want" "$got"
  fi
}

# The commands of the blocks that run, in order, as one session: a reader's
# terminal keeps its directory and its exports from block to block.
cmds=$TMP/commands   # one line per command: BLOCK<TAB>N-IN-BLOCK<TAB>COMMAND
: >"$cmds"
skipped=0
ran=0
last=$(find "$TMP/blocks" -name '[0-9]*' ! -name '*.skip' | sed 's#.*/##' | sort -n | tail -1)
for n in $(seq 1 "$last"); do
  if [ -e "$TMP/blocks/$n.skip" ]; then
    skipped=$((skipped + 1))
    continue
  fi
  sed -i -e "s/27150/$port_a/g" -e "s/27160/$port_b/g" "$TMP/blocks/$n"
  k=0
  while IFS= read -r line; do
    [[ $line == '$ '* ]] || continue
    k=$((k + 1))
    printf '%s\t%s\t%s\n' "$n" "$k" "${line#'$ '}" >>"$cmds"
  done <"$TMP/blocks/$n"
  [ "$k" -gt 0 ] || fail "block $n has no command"
  ran=$((ran + 1))
done

# The script: each command as typed, a watchdog around it, a marker with its
# number after its output; `$?` stays the command's own.
script=$TMP/readme.sh
out=$TMP/readme.out
{
  echo 'set +e; __rc=0'
  echo "cd '$root'"
  i=0
  while IFS=$'\t' read -r n k cmd; do
    i=$((i + 1))
    echo "( sleep 30; echo '@@TIMEOUT $i@@'; kill -TERM 0 ) & __wd=\$!"
    echo "(exit \$__rc); { $cmd"
    echo "} 2>&1"
    echo "__rc=\$?; kill \$__wd 2>/dev/null; wait \$__wd 2>/dev/null; echo; echo '@@END $i@@'"
  done <"$cmds"
} >"$script"
PATH=$TMP/bin:$PATH ES_SERVER=$node_server TMPDIR=$TMP HOME=$TMP XDG_CONFIG_HOME=$TMP/.config \
  setsid bash "$script" >"$out" 2>&1 </dev/null &
pid=$!
# Whatever the blocks left running (nodes they started) goes at exit.
E2E_AT_EXIT+=("kill -TERM -- -$pid")
wait "$pid"
if grep -q '^@@TIMEOUT' "$out"; then
  t=$(sed -n 's/^@@TIMEOUT \([0-9]*\)@@$/\1/p' "$out" | head -1)
  fail "command $t ($(sed -n "${t}p" "$cmds" | cut -f3)) ran over 30 s"
fi

# Compare command by command.
want=$TMP/want
got=$TMP/got
i=0
while IFS=$'\t' read -r n k cmd; do
  i=$((i + 1))
  # What the README shows under command k of block n.
  awk -v k="$k" '/^\$ / { c++; next } c == k' "$TMP/blocks/$n" | normalize >"$want"
  # What it printed: the lines before marker i, after marker i-1 (dropping
  # the blank line the marker adds, or the one it ends a last line with).
  awk -v k="$i" '
    /^@@END [0-9]+@@$/ { c++; if (c == k) exit; n = 0; next }
    c == k - 1 { lines[n++] = $0 }
    END { if (n > 0 && lines[n - 1] == "") n--; for (j = 0; j < n; j++) print lines[j] }
  ' "$out" | normalize >"$got"
  check "README block $n: \$ $cmd"
  if ! matches "$want" "$got"; then
    echo "--- README shows" >&2
    cat "$want" >&2
    echo "--- it printed" >&2
    cat "$got" >&2
    fail "block $n: \`$cmd\` printed something else than the README shows"
  fi
done <"$cmds"

[ "$skipped" -le 4 ] || fail "$skipped blocks are marked not run: run them, or keep such blocks few"
echo "README: $ran console blocks ran as shown, $skipped marked not run"

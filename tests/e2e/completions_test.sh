#!/usr/bin/env bash
# tests/e2e/completions_test.sh ES_BINARY COMPLETIONS_DIR ESD_BINARY
#
# Checks the committed shell completions in COMPLETIONS_DIR (es.bash, _es,
# es.fish, and esd's: esd.bash, _esd, esd.fish) against ES_BINARY (and
# ESD_BINARY for esd's, in (a), (b) and (c)):
#   (a) each file is byte-identical to `es completion SHELL`, so they cannot
#       drift (fix: cmake --build BUILD --target update-completions);
#   (b) every subcommand in `es --help`, and every short and long option in
#       `es SUB --help`, appears in that command's part of each file;
#   (c) each file passes its shell's syntax check (zsh and fish only when
#       installed);
#   (d) bash really completes: `es re` gives read, `es read --ba` gives
#       --backwards, values and stream names complete (and the same in fish
#       when it is installed).
# Needs no running esd: stream names come from a stand-in es.
set -u

if [ $# -ne 3 ]; then
  echo "usage: $0 ES_BINARY COMPLETIONS_DIR ESD_BINARY" >&2
  exit 2
fi
es=$1
dir=$2
esd=$3
passed=0
failed=0
skipped=0

ok() { passed=$((passed + 1)); }
fail() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}
skip() {
  echo "skip: $*"
  skipped=$((skipped + 1))
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

shells=(bash zsh fish)
declare -A file=([bash]=es.bash [zsh]=_es [fish]=es.fish)

# --- (a) the committed files are what es prints ----------------------------
for shell in "${shells[@]}"; do
  f=$dir/${file[$shell]}
  if [ ! -f "$f" ]; then
    fail "$f is missing"
    continue
  fi
  if ! "$es" completion "$shell" >"$tmp/$shell.out" 2>"$tmp/$shell.err"; then
    fail "\`es completion $shell\` failed: $(cat "$tmp/$shell.err")"
    continue
  fi
  if cmp -s "$tmp/$shell.out" "$f"; then
    ok
  else
    fail "completions/${file[$shell]} differs from \`es completion $shell\`" \
      "(regenerate: cmake --build BUILD --target update-completions):"
    diff -u "$f" "$tmp/$shell.out" | head -40 >&2
  fi
  # Deterministic: the same tree gives the same bytes.
  if "$es" completion "$shell" | cmp -s - "$tmp/$shell.out"; then ok; else fail "\`es completion $shell\` is not deterministic"; fi
done
if "$es" completion nosuchshell >/dev/null 2>&1; then
  fail "\`es completion nosuchshell\` succeeded"
else
  ok
fi
# esd's: the same checks, from `esd --completion SHELL`.
declare -A esd_file=([bash]=esd.bash [zsh]=_esd [fish]=esd.fish)
for shell in "${shells[@]}"; do
  f=$dir/${esd_file[$shell]}
  if "$esd" --completion "$shell" >"$tmp/esd.$shell.out" 2>"$tmp/esd.$shell.err" &&
    cmp -s "$tmp/esd.$shell.out" "$f"; then
    ok
  else
    fail "completions/${esd_file[$shell]} differs from \`esd --completion $shell\`" \
      "(regenerate: cmake --build BUILD --target update-completions): $(cat "$tmp/esd.$shell.err")"
  fi
done
if "$esd" --completion nosuchshell >/dev/null 2>&1; then
  fail "\`esd --completion nosuchshell\` succeeded"
else
  ok
fi

# --- (b) every command and option of the help is in every file -------------
# Subcommand names: the "Subcommands:" section of `es --help`.
help_subcommands() {
  "$es" --help | awk '/^Subcommands:/ { on = 1; next } on && /^[^ ]/ { on = 0 } on && NF { print $1 }'
}
# Option names: lines starting with "-x, --long" or "--long" (CLI11 writes
# "-x,--long TYPE"); the names are the leading words that start with '-'.
help_options() {
  "$@" --help | awk '/^ +-/ {
    line = $0
    sub(/^ +/, "", line)
    gsub(/,/, " ", line)
    n = split(line, w, / +/)
    for (i = 1; i <= n && w[i] ~ /^-/; i++) print w[i]
  }'
}

# The part of each file that describes command PATH ("es", "es read").
section() {
  local shell=$1 path=$2 f=$dir/${file[$1]}
  case $shell in
    bash)
      local label=$path
      [[ $path == *" "* ]] && label="'$path'"
      awk -v label="        $label)" '$0 == label { on = 1; next } on && /;;/ { exit } on { print }' "$f"
      ;;
    zsh)
      local fn=_${path// /_}
      awk -v start="$fn() {" '$0 == start { on = 1; next } on && /^}/ { exit } on { print }' "$f"
      ;;
    fish)
      local cond="\"__es_is $path\""
      [[ $path == *" "* ]] && cond="\"__es_is '$path'\""
      grep -F -- "-n $cond " "$f"
      ;;
  esac
}

# Whether option OPT (-x or --long) is in a section of SHELL.
has_option() {
  local shell=$1 opt=$2 text=$3 re
  case $shell in
    bash) re="^ *opts='(.* )?$opt( .*)?'\$" ;;
    zsh) re="[)*]$opt[+=]?\\[" ;;
    fish)
      if [[ $opt == --* ]]; then re=" -l ${opt#--}( |\$)"; else re=" -s ${opt#-}( |\$)"; fi
      ;;
  esac
  grep -Eq -- "$re" <<<"$text"
}

has_subcommand() {
  local shell=$1 sub=$2 f=$dir/${file[$1]}
  case $shell in
    bash) section bash es | grep -Eq "^ *subs='(.* )?$sub( .*)?'\$" ;;
    zsh) grep -Eq "^ *'$sub:" "$f" && grep -Eq "^ *$sub\) _es_$sub && ret=0 ;;" "$f" ;;
    fish) section fish es | grep -Eq -- " -a $sub( |\$)" ;;
  esac
}

subcommands=$(help_subcommands)
if [ -z "$subcommands" ]; then
  fail "found no subcommands in \`es --help\`"
fi
for shell in "${shells[@]}"; do
  [ -f "$dir/${file[$shell]}" ] || continue
  for sub in $subcommands; do
    if has_subcommand "$shell" "$sub"; then ok; else fail "${file[$shell]}: subcommand $sub is missing"; fi
  done
  for path in es $(for sub in $subcommands; do echo "es:$sub"; done); do
    path=${path/:/ }
    read -ra cmd <<<"$path"
    cmd[0]=$es
    text=$(section "$shell" "$path")
    if [ -z "$text" ]; then
      fail "${file[$shell]}: no section for \`$path\`"
      continue
    fi
    opts=$(help_options "${cmd[@]}")
    [ -n "$opts" ] || fail "found no options in \`$path --help\`"
    for opt in $opts; do
      if has_option "$shell" "$opt" "$text"; then ok; else fail "${file[$shell]}: option $opt of \`$path\` is missing"; fi
    done
  done
done

# esd has no subcommands: each of its options is in each of its files.
esd_opts=$(help_options "$esd")
[ -n "$esd_opts" ] || fail "found no options in \`esd --help\`"
for shell in "${shells[@]}"; do
  f=$dir/${esd_file[$shell]}
  [ -f "$f" ] || continue
  for opt in $esd_opts; do
    if has_option "$shell" "$opt" "$(cat "$f")"; then ok; else fail "${esd_file[$shell]}: option $opt of esd is missing"; fi
  done
done

# The checks below need the files (a missing one has failed above).
for shell in "${shells[@]}"; do
  if [ ! -f "$dir/${file[$shell]}" ]; then
    echo "$0: ${file[$shell]} is missing" >&2
    echo "completions: $passed passed, $failed failed, $skipped skipped"
    exit 1
  fi
done

# --- (c) syntax --------------------------------------------------------------
for p in es esd; do
  if bash -n "$dir/$p.bash"; then ok; else fail "bash -n $p.bash"; fi
  if command -v zsh >/dev/null 2>&1; then
    if zsh -n "$dir/_$p"; then ok; else fail "zsh -n _$p"; fi
  else
    skip "zsh is not installed: no syntax check of _$p"
  fi
  if command -v fish >/dev/null 2>&1; then
    if fish --no-execute "$dir/$p.fish"; then ok; else fail "fish --no-execute $p.fish"; fi
  else
    skip "fish is not installed: no syntax check of $p.fish"
  fi
done

# --- (d) completing for real ---------------------------------------------------
# A stand-in es whose `streams` prints a few streams; everything else goes to
# the real one.
mkdir -p "$tmp/bin"
cat >"$tmp/bin/es" <<EOF
#!/bin/sh
for a in "\$@"; do
  if [ "\$a" = streams ]; then
    printf '%s\n' '{"stream":"order-42","last_version":1,"last_position":18}' \\
      '{"stream":"order-7","last_version":0,"last_position":3}' \\
      '{"stream":"ticks","last_version":4,"last_position":6}'
    exit 0
  fi
done
exec "$es" "\$@"
EOF
chmod +x "$tmp/bin/es"

# bash_complete WORD... : what _es leaves in COMPREPLY for the words, the last
# being the one at the cursor, one per line.
bash_complete() {
  bash -c 'source "$1" || exit 1
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _es
    printf "%s\n" "${COMPREPLY[@]}"' bash "$dir/es.bash" "$@"
}

# expect_bash "WANTED..." WORD...: COMPREPLY holds every wanted word.
expect_bash() {
  local want=$1 got w
  shift
  got=$(bash_complete "$@")
  for w in $want; do
    if grep -qxF -- "$w" <<<"$got"; then
      ok
    else
      fail "bash: completing \`$*\` gives [$(echo $got)], not $w"
    fi
  done
}

expect_bash read es re
expect_bash --backwards es read --ba
expect_bash "append read tail streams status stop completion" es ''
expect_bash "json text" es --output ''
expect_bash "json text" es read -o ''
expect_bash "bash zsh fish" es completion ''
expect_bash "project promote" es help pro
expect_bash "any no-stream exists" es append --expect ''
expect_bash "--all --category" es tail --
expect_bash "order-42 order-7" "$tmp/bin/es" read o
expect_bash "order-42 order-7 ticks" "$tmp/bin/es" --server tcp://x tail --type T ''
expect_bash "order ticks" "$tmp/bin/es" read --all --category ''
if [ -z "$(bash_complete es read --limit '')" ]; then ok; else fail "bash: completing the value of --limit offers words"; fi

if command -v fish >/dev/null 2>&1; then
  # fish ships completions for another `es` (a shell): look only in $dir. It
  # loads completions only for a command on $PATH: the stand-in es.
  fish_complete() {
    PATH=$tmp/bin:$PATH HOME=$tmp fish --no-config -c 'set fish_complete_path $argv[1]; complete -C $argv[2] | string replace -r "\t.*" ""' \
      "$dir" "$1"
  }
  expect_fish() {
    local want=$1 line=$2 got w
    got=$(fish_complete "$line")
    for w in $want; do
      if grep -qxF -- "$w" <<<"$got"; then ok; else fail "fish: completing \`$line\` gives [$(echo $got)], not $w"; fi
    done
  }
  expect_fish read "es re"
  expect_fish --backwards "es read --ba"
  expect_fish "json text" "es -o "
  expect_fish "bash zsh fish" "es completion "
  expect_fish "order-42 order-7" "es read o"
  expect_fish "order ticks" "es tail --category "
else
  skip "fish is not installed: no fish completion check"
fi

echo "completions: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

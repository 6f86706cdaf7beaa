#!/usr/bin/env bash
# tests/e2e/completions_install_test.sh BUILD_DIR
#
# Installs BUILD_DIR into a staging directory (DESTDIR, the prefix it was
# configured with) and checks, for es and esd and each of bash, zsh and fish:
#   (a) the completion file lands in a directory that shell searches by
#       default (asked from the shell itself: bash-completion's search list,
#       zsh's $fpath, fish's $fish_complete_path), under the staging root;
#   (b) the shell, loading it from there the way it loads completions (bash:
#       bash-completion's loader; zsh: compinit over $fpath, driven through a
#       pseudo-terminal; fish: $fish_complete_path), completes a subcommand
#       and a flag.
# A missing shell is a failure: deps.sh installs all three and bash-completion.
set -u

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$1
passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage=$tmp/stage
mkdir -p "$tmp/home"
export HOME=$tmp/home
unset XDG_DATA_DIRS XDG_DATA_HOME XDG_CONFIG_HOME BASH_COMPLETION_USER_DIR

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
if ! DESTDIR=$stage cmake --install "$build" >"$tmp/install.log" 2>&1; then
  fail "cmake --install failed: $(tail -5 "$tmp/install.log")"
  echo "completions_installed: $passed passed, $failed failed"
  exit 1
fi
echo "installed $build (prefix $prefix) into $stage"
export PATH=$stage$prefix/bin:$PATH

for shell in bash zsh fish; do
  command -v "$shell" >/dev/null || fail "$shell is not installed (scripts/deps.sh installs it)"
done
[ -f /usr/share/bash-completion/bash_completion ] ||
  fail "bash-completion is not installed (scripts/deps.sh installs it)"

# found SHELL FILE DIR...: sets $dir to the first DIR (a default search
# directory) that holds FILE under the staging root; else fails.
found() {
  local shell=$1 file=$2 d
  shift 2
  for d in "$@"; do
    if [ -f "$stage$d/$file" ]; then
      dir=$d
      ok
      return 0
    fi
  done
  fail "$shell: $file is not installed in any directory $shell searches by default ($*);" \
    "installed: $(cd "$stage" && find . -name "$file" | tr '\n' ' ')"
  return 1
}

# expect SHELL LINE GOT WANTED: GOT (what completing LINE gave) holds WANTED.
expect() {
  if grep -qxF -- "$4" <<<"$3"; then
    ok
  else
    fail "$1: completing \`$2\` gives [$(echo $3)], not $4"
  fi
}

# The cases: a line, and a completion it must offer.
cases=("es rea|read" "es read --ba|--backwards" "esd --ro|--role" "esd --role pr|primary")

# --- bash ------------------------------------------------------------------
bash_dirs=()
while IFS= read -r d; do bash_dirs+=("$d/bash-completion/completions"); done < <(tr ':' '\n' <<<"/usr/local/share:/usr/share")
for program in es esd; do
  found bash "$program" "${bash_dirs[@]}" || continue
  for c in "${cases[@]}"; do
    line=${c%|*}
    [ "${line%% *}" = "$program" ] || continue
    # bash-completion's own loader finds the file (XDG_DATA_DIRS points its
    # search into the staging root); then the function it registered runs.
    got=$(XDG_DATA_DIRS=$stage/usr/local/share:$stage/usr/share bash -c '
      source /usr/share/bash-completion/bash_completion
      read -ra COMP_WORDS <<<"$1"
      [[ $1 == *" " ]] && COMP_WORDS+=("")
      COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
      COMP_LINE=$1
      COMP_POINT=${#COMP_LINE}
      __load_completion "${COMP_WORDS[0]}" || { echo "no completion loaded" >&2; exit 1; }
      fn=$(complete -p "${COMP_WORDS[0]}" | sed -n "s/.*-F \([^ ]*\).*/\1/p")
      COMPREPLY=()
      "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
      printf "%s\n" "${COMPREPLY[@]}"' bash "$line" 2>&1)
    expect bash "$line" "$got" "${c#*|}"
  done
done

# --- zsh -------------------------------------------------------------------
mapfile -t zsh_fpath < <(zsh -fc 'print -l $fpath')
zsh_dir=""
for program in es esd; do
  found zsh "_$program" "${zsh_fpath[@]}" && zsh_dir=$dir
done
if [ -n "$zsh_dir" ]; then
  # compinit over $fpath with the staging directory first; a line typed into
  # an interactive zsh through zpty, TAB, then a key bound to a widget that
  # writes the edited line ($BUFFER) to a file.
  out=$tmp/zsh.out
  lines=("es" "${cases[@]%|*}")
  timeout 60 zsh -f -c '
    zmodload zsh/zpty || exit 1
    out=$1 dir=$2
    shift 2
    zpty z zsh -f -i
    zpty -w z "fpath=($dir \$fpath); autoload -U compinit; compinit -u -D"
    zpty -w z "show() { print -r -- \"\$BUFFER\" >> $out; BUFFER=; }; zle -N show; bindkey \"^X^P\" show"
    n=0
    for line in "$@"; do
      zpty -w -n z "$line"$'"'"'\t\C-x\C-p'"'"'
      n=$((n + 1))
      for i in {1..100}; do
        [[ -f $out && $(wc -l < $out) -ge $n ]] && break
        sleep 0.05
      done
    done
    zpty -d z' zsh "$out" "$stage$zsh_dir" "${lines[@]}"
  # The first line ("es", warming compinit up) is not checked.
  mapfile -t zsh_got < <(tail -n +2 "$out" 2>/dev/null)
  for i in "${!cases[@]}"; do
    c=${cases[$i]}
    line=${c%|*}
    got=${zsh_got[$i]:-}
    want="${line% *} ${c#*|}"
    # zsh writes --opt= for an option that takes a value.
    case $got in
      "$want "* | "$want=" | "$want") ok ;;
      *) fail "zsh: completing \`$line\` gives [$got], not $want" ;;
    esac
  done
fi

# --- fish ------------------------------------------------------------------
mapfile -t fish_path < <(fish -c 'printf "%s\n" $fish_complete_path')
for program in es esd; do
  found fish "$program.fish" "${fish_path[@]}" || continue
  for c in "${cases[@]}"; do
    line=${c%|*}
    [ "${line%% *}" = "$program" ] || continue
    # fish ships completions for another `es` (a shell): the staging
    # directory goes first, as the installed one comes before fish's own.
    got=$(fish -c 'set fish_complete_path $argv[1] $fish_complete_path
      complete -C $argv[2] | string replace -r "\t.*" ""' "$stage$dir" "$line" 2>&1)
    expect fish "$line" "$got" "${c#*|}"
  done
done

echo "completions_installed: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

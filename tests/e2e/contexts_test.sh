#!/usr/bin/env bash
# tests/e2e/contexts_test.sh ESD ES: es's named contexts (es(1), Contexts).
#   - es context add/ls/show/use/rm, under $XDG_CONFIG_HOME/es, private
#     (directories 0700, files 0600); the first one added is selected;
#   - which one: --context, else $ES_CONTEXT, else the selected one;
#   - precedence: flags > ES_SERVER > the context > defaults;
#   - an unknown key or a bad server is an error naming the file.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
export XDG_CONFIG_HOME="$TMP/config"
unset ES_CONTEXT

start_esd "$TMP/data"
GOOD=$ES_SERVER
unset ES_SERVER
DEAD="tcp://127.0.0.1:$(pick_port)"

check "add, ls, show; private files; the first one is selected"
assert_exit 0 es context add good --server "$GOOD" --timeout 3
assert_exit 0 es context add dead -s "$DEAD" --timeout 0.5 -o text
assert_exit 1 es context add good --server "$DEAD"
assert_contains "$ERR" "a context named good exists ($XDG_CONFIG_HOME/es/contexts/good.toml): --force replaces it" \
  "an existing name"
assert_eq "$(stat -c %a "$XDG_CONFIG_HOME/es" "$XDG_CONFIG_HOME/es/contexts" | sort -u)" 700 "directories' mode"
assert_eq "$(stat -c %a "$XDG_CONFIG_HOME"/es/contexts/*.toml "$XDG_CONFIG_HOME/es/context" | sort -u)" 600 "files' mode"
assert_exit 0 es context add dead -s "$DEAD" --timeout 0.5 -o text --force
assert_exit 0 es context ls -o text
assert_eq "$OUT" "   NAME  SERVER
   dead  $DEAD
*  good  $GOOD" "es context ls -o text"
assert_exit 0 es context show dead
assert_eq "$OUT" "{\"name\":\"dead\",\"file\":\"$XDG_CONFIG_HOME/es/contexts/dead.toml\",\"server\":\"$DEAD\",\"timeout\":0.500,\"output\":\"text\"}" \
  "es context show"

check "the selected context is used; --context and ES_CONTEXT choose another"
assert_exit 0 es status
assert_exit 5 es --context dead status
assert_contains "$ERR" "$DEAD" "the dead context's server"
assert_exit 5 env ES_CONTEXT=dead "$ES" status
assert_exit 0 env ES_CONTEXT=dead "$ES" --context good status

check "precedence: a flag and ES_SERVER beat the context"
assert_exit 0 es --context dead -s "$GOOD" status
assert_exit 0 env ES_SERVER="$GOOD" "$ES" --context dead status
assert_exit 5 env ES_SERVER="$DEAD" "$ES" --context good status
check "the context's output (text) applies unless -o says"
assert_exit 0 es --context dead -s "$GOOD" status
assert_contains "$OUT" "head" "status output"
[ "${OUT:0:1}" = "{" ] && fail "the context's output text was not used: $OUT"
assert_exit 0 es --context dead -s "$GOOD" -o json status
[ "${OUT:0:1}" = "{" ] || fail "-o json did not beat the context: $OUT"

check "use, rm (the selected one: then none is selected)"
assert_exit 0 es context use dead
assert_exit 5 es status
assert_exit 0 es context ls
assert_eq "$(jq -r 'select(.selected) | .name' <<<"$OUT")" dead "selected after use"
assert_exit 4 es context use nope
assert_exit 0 es context rm dead
assert_exit 4 es context rm dead
assert_eq "$(jq -r 'select(.selected) | .name' <<<"$("$ES" context ls)")" "" "none selected after rm"

check "bad contexts are errors naming the file"
assert_exit 2 es --context nope status
assert_eq "$ERR" "es: error: no context named nope ($XDG_CONFIG_HOME/es/contexts/nope.toml)
Run with --help for more information." "a missing context"
"$ES" context add prod --server tcp://127.0.0.1:1 >/dev/null
assert_exit 2 es --context prdo status
assert_contains "$ERR" "no context named prdo ($XDG_CONFIG_HOME/es/contexts/prdo.toml); did you mean 'prod'?" \
  "a mistyped context names the nearest"
"$ES" context rm prod >/dev/null
printf 'server = "tcp://127.0.0.1:1"\ncolour = "blue"\n' >"$XDG_CONFIG_HOME/es/contexts/bad.toml"
assert_exit 2 es --context bad status
assert_contains "$ERR" "es: error: $XDG_CONFIG_HOME/es/contexts/bad.toml:2: colour: unknown key" "an unknown key"
printf 'server = "http://x"\n' >"$XDG_CONFIG_HOME/es/contexts/bad.toml"
assert_exit 2 env ES_CONTEXT=bad "$ES" status
assert_contains "$ERR" "es: error: $XDG_CONFIG_HOME/es/contexts/bad.toml:1: server: " "a bad server"

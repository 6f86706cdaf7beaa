#!/usr/bin/env bash
# tests/e2e/config_test.sh ESD ES: esd's settings (esd.toml(5)).
#   - precedence: default < file < ESD_* environment < flag, as
#     --print-config shows it (each value with its origin) and as a running
#     node takes it; --print-config's output is a config file esd takes;
#   - an unknown key, a bad value, a wrong type, a bad ESD_* are refused with
#     FILE:LINE and the key, exit 78; a bad flag stays the usage error 2;
#   - SIGHUP: applies a new log level (debug lines appear) and max-clients,
#     names the changed keys that need a restart, reopens --log-file after
#     logrotate moved it; a bad file on reload is logged and the running
#     values stay; the node never stops for it;
#   - examples/esd.toml is every key at its default.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
EXAMPLE="$(cd "$(dirname "$0")/../.." && pwd)/examples/esd.toml"
unset ESD_CONFIG ESD_LOG_LEVEL ESD_MAX_CLIENTS ESD_HEARTBEAT ESD_PUBLISH_HWM ESD_LOG_FILE

# origin KEY: the value and origin --print-config gave KEY ("60 # env ESD_MAX_CLIENTS").
origin() { grep "^$1 = " <<<"$OUT" | sed -E 's/^[^=]+= //; s/ +# / # /'; }

check "precedence: default < file < env < flag (--print-config)"
CONF="$TMP/esd.toml"
cat >"$CONF" <<'EOF'
# a comment
log-level = "debug"
max-clients = 50
heartbeat = 2000
publish-hwm = 100
EOF
assert_exit 0 env ESD_MAX_CLIENTS=60 ESD_HEARTBEAT=3000 "$ESD" --config "$CONF" --heartbeat 4000 --print-config
assert_eq "$(origin role)" "\"primary\" # default" "role"
assert_eq "$(origin log-level)" "\"debug\" # $CONF:2" "log-level"
assert_eq "$(origin publish-hwm)" "100 # $CONF:5" "publish-hwm"
assert_eq "$(origin max-clients)" "60 # env ESD_MAX_CLIENTS" "max-clients"
assert_eq "$(origin heartbeat)" "4000 # flag" "heartbeat"
check "--print-config's output is a config file esd takes, with the same values"
echo "$OUT" >"$TMP/printed.toml"
FIRST=$(sed -E 's/ +#.*//' <<<"$OUT" | grep -v '^$')
assert_exit 0 "$ESD" --config "$TMP/printed.toml" --print-config
assert_eq "$(sed -E 's/ +#.*//' <<<"$OUT" | grep -v '^$')" "$FIRST" "values read back"
check "ESD_CONFIG names the file; --config wins over it"
assert_exit 0 env ESD_CONFIG="$CONF" "$ESD" --print-config
assert_eq "$(origin publish-hwm)" "100 # $CONF:5" "publish-hwm from \$ESD_CONFIG"
assert_exit 0 env ESD_CONFIG=/nonexistent "$ESD" --config "$TMP/printed.toml" --print-config

check "examples/esd.toml: every key, each at its default"
assert_exit 0 "$ESD" --config "$EXAMPLE" --print-config
assert_eq "$(grep -c " # $EXAMPLE:" <<<"$OUT")" "$(grep -cE '^[a-z-]+ = ("[^"]|[0-9])' "$EXAMPLE")" \
  "the keys the example sets (\"\" is not set) are read from it"
for key in $(sed -nE 's/^([a-z-]+) = .*/\1/p' <<<"$OUT"); do
  grep -qE "^(# )?$key = " "$EXAMPLE" || fail "examples/esd.toml lacks $key"
done
# Not compared: what depends on the machine (data dir, the clients' cap) and
# projection-memory, whose default is 0 in a sanitizer build (sandbox.h).
machine_keys=(-e '^$' -e '^data = ' -e '^max-clients = ' -e '^projection-memory = ')
DEFAULTS=$("$ESD" --print-config | sed -E 's/ +#.*//' | grep -v "${machine_keys[@]}")
assert_eq "$(sed -E 's/ +#.*//' <<<"$OUT" | grep -v "${machine_keys[@]}")" \
  "$DEFAULTS" "the example's values are the defaults (but the machine's data dir and cap)"

check "bad settings: FILE:LINE: KEY, exit 78"
printf 'log-level = "info"\nbogus = 1\n' >"$TMP/bad1.toml"
assert_exit 78 "$ESD" --config "$TMP/bad1.toml" --data "$TMP/never"
assert_eq "$ERR" "esd: error: $TMP/bad1.toml:2: bogus: unknown key (esd.toml(5) lists the keys)" "unknown key"
printf 'max-clinets = 5\n' >"$TMP/typo.toml"
assert_exit 78 "$ESD" --config "$TMP/typo.toml" --data "$TMP/never"
assert_eq "$ERR" "esd: error: $TMP/typo.toml:1: max-clinets: unknown key; did you mean 'max-clients'?" \
  "a mistyped key names the nearest"
printf '\n\nmax-clients = -1\n' >"$TMP/bad2.toml"
assert_exit 78 "$ESD" --config "$TMP/bad2.toml" --data "$TMP/never"
assert_eq "$ERR" "esd: error: $TMP/bad2.toml:3: max-clients: -1 is not a whole number (from 1 to 1,000,000)" \
  "value out of range"
printf 'heartbeat = "1s"\n' >"$TMP/bad3.toml"
assert_exit 78 "$ESD" --config "$TMP/bad3.toml" --data "$TMP/never"
assert_eq "$ERR" "esd: error: $TMP/bad3.toml:1: heartbeat: a string where it takes a whole number" "wrong type"
printf 'listen = "tcp://127.0.0.1:1\n' >"$TMP/bad4.toml"
assert_exit 78 "$ESD" --config "$TMP/bad4.toml" --data "$TMP/never"
assert_contains "$ERR" "esd: error: $TMP/bad4.toml:1:" "a TOML syntax error"
assert_exit 78 "$ESD" --config "$TMP/missing.toml" --data "$TMP/never"
assert_contains "$ERR" "$TMP/missing.toml" "a missing file"
assert_exit 78 env ESD_LOG_LEVEL=loud "$ESD" --data "$TMP/never"
assert_eq "$ERR" "esd: error: ESD_LOG_LEVEL: it takes trace, debug, info, warn, error, critical or off, not 'loud'" \
  "a bad ESD_* value"
printf 'role = "replica"\n' >"$TMP/bad5.toml"
assert_exit 78 "$ESD" --config "$TMP/bad5.toml" --data "$TMP/never"
assert_contains "$ERR" "--role replica needs --follow" "a check across keys, from the file"
assert_exit 2 "$ESD" --max-clients 0 --data "$TMP/never"
assert_contains "$ERR" "--max-clients: 0 is not a whole number" "a bad flag is a usage error"
[ -e "$TMP/never" ] && fail "esd made its data dir before refusing its settings"

check "a running node: a flag beats the file (listen), the file beats the default (log-level)"
LOGFILE="$TMP/log/esd.log"
mkdir -p "$TMP/log"
cat >"$CONF" <<EOF
listen = "tcp://127.0.0.1:1"
log-file = "$LOGFILE"
EOF
start_esd "$TMP/data" --config "$CONF"
assert_eq "$(stat -c %a "$LOGFILE")" 600 "the log file's mode"
assert_contains "$(cat "$LOGFILE")" " info esd " "the log goes to the file"
assert_eq "$(cat "$ESD_LOG")" "" "nothing on stderr"
echo '{"stream":"a-1","type":"T","data":{}}' | es append >/dev/null
grep -q " debug " "$LOGFILE" && fail "debug lines at the default level: $(cat "$LOGFILE")"

check "SIGHUP after logrotate's move: a new file, the new level and cap applied, restart keys named (a flag still beats the file)"
cat >"$CONF" <<EOF
listen = "tcp://127.0.0.1:2"
log-file = "$LOGFILE"
log-level = "debug"
max-clients = 7
heartbeat = 2000
EOF
mv "$LOGFILE" "$LOGFILE.1"
kill -HUP "$ESD_PID"
wait_for 10 "the reload's line in a new log file" grep -q reloaded "$LOGFILE"
assert_contains "$(cat "$LOGFILE")" "reloaded: applied max-clients 7, log-level debug; changed, need a restart: heartbeat" \
  "what the reload applied"
echo '{"stream":"a-2","type":"T","data":{}}' | es append >/dev/null
wait_for 10 "a debug line" grep -q " debug commit: " "$LOGFILE"
grep -q reloaded "$LOGFILE.1" && fail "the moved file got lines after the reload"

check "a bad file on reload: logged, the running values stay, the node serves"
printf 'log-level = "info"\nmax-clients = "many"\n' >"$CONF"
kill -HUP "$ESD_PID"
wait_for 10 "the refused reload" grep -q "reload refused" "$LOGFILE"
assert_contains "$(grep "reload refused" "$LOGFILE")" \
  "the running settings stay: $CONF:2: max-clients: a string where it takes a whole number" "the refusal"
echo '{"stream":"a-3","type":"T","data":{}}' | es append >/dev/null
wait_for 10 "debug lines still" bash -c "[ \$(grep -c ' debug commit: ' '$LOGFILE') -ge 2 ]"
stop_esd
assert_eq "$ESD_EXIT" 0 "esd's exit after the reloads"

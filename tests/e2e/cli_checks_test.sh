#!/usr/bin/env bash
# tests/e2e/cli_checks_test.sh ESD ES: the command line as a new user meets
# it: every option checked as it is parsed (usage errors, exit 2, naming the
# option and the value), endpoints, unknown commands and `es help`, empty
# values, -d @FILE and -d -, NDJSON keys (refused typos, es read | es append,
# per-line expect with --atomic) and failing fast when nothing listens.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"

# usage CMD...: CMD must be a usage error whose message starts with the
# program's "error:" prefix; the message is in $ERR.
usage() {
  assert_exit 2 "$@"
  case "$ERR" in
    es:\ error:\ * | esd:\ error:\ *) ;;
    *) fail "no 'error:' prefix from: $* [$ERR]" ;;
  esac
}
ms_now() { date +%s%3N; }

# --- options, checked before anything is done ----------------------------------
check "numbers: negative counts and positions, zero timeouts, ranges in words"
usage "$ES" read --all --limit -1
assert_contains "$ERR" "es: error: --limit: -1 is not a whole number (0 or more)" "--limit -1"
usage "$ES" read --all --from -3
assert_contains "$ERR" "--from: -3 is not" "--from -3"
usage "$ES" --timeout 0 status
assert_eq "$(head -1 <<<"$ERR")" "es: error: --timeout: 0 is not a number of seconds above 0" "--timeout 0"
usage "$ES" status --timeout abc
usage "$ES" append s --batch 0
usage "$ES" tail --count -2
usage "$ES" verify --at 0
usage "$ES" replay f.jq --to -1
usage "$ES" state p --at -1
usage "$ES" nodes --interval 0
assert_contains "$ERR" "from 0.1 to 3,600" "--interval range"
usage "$ES" nodes --count 0
usage "$ES" read --limit
usage "$ES" read --no-such-option x
assert_contains "$ERR" "--no-such-option" "unknown option named"

check "endpoints: -s, \$ES_SERVER, es nodes, esd's"
usage "$ES" -s nonsense status
assert_contains "$ERR" "endpoint 'nonsense': no transport" "no transport"
usage "$ES" -s tcp://127.0.0.1 status
assert_contains "$ERR" "no port" "no port"
usage "$ES" -s tcp://127.0.0.1:99999 status
assert_contains "$ERR" "the port 99999 is out of range (a port is 1 to 65535)" "bad port"
usage "$ES" -s 'tcp://*:7150' status
usage "$ES" -s tcp://::1:7150 status
assert_contains "$ERR" "brackets" "IPv6 without brackets"
usage "$ES" -s udp://h:1 status
assert_contains "$ERR" "unknown transport 'udp'" "unknown transport"
usage env ES_SERVER=nonsense "$ES" status
assert_contains "$ERR" "\$ES_SERVER: endpoint 'nonsense'" "\$ES_SERVER named"
assert_exit 0 env ES_SERVER=nonsense "$ES" help
assert_exit 5 env ES_SERVER=nonsense "$ES" -s "tcp://127.0.0.1:$(pick_port)" status
usage "$ES" nodes tcp://h:0
usage "$ESD" --data "$TMP/never" --listen tcp://127.0.0.1:99999
assert_contains "$ERR" "esd: error: --listen: endpoint 'tcp://127.0.0.1:99999': the port 99999 is out of range" "esd --listen"
usage "$ESD" --data "$TMP/never" --listen tcp://127.0.0.1
usage "$ESD" --data "$TMP/never" --listen tcp://127.0.0.1:65535
assert_contains "$ERR" "give --publish" "no next port"
usage "$ESD" --data "$TMP/never" --role replica --follow 'tcp://*:7150'
usage "$ESD" --data "$TMP/never" --heartbeat 5
assert_contains "$ERR" "--heartbeat: 5 is not a whole number (from 10 to 3,600,000)" "esd range"
usage "$ESD" --data "$TMP/never" --max-clients -1
usage "$ESD" --data "$TMP/never" --bogus
[ ! -e "$TMP/never" ] || fail "esd made its data directory before refusing its options"
assert_exit 0 "$ESD" --help
assert_exit 0 "$ESD" --version
assert_exit 0 "$ES" --version

check "binding an address other hosts reach needs --insecure (no authentication yet)"
read -r OPEN_P OPEN_H <<<"$(pick_ports 2)"
usage "$ESD" --data "$TMP/never" --listen "tcp://0.0.0.0:$OPEN_P"
assert_contains "$ERR" "esd: error: --listen tcp://0.0.0.0:$OPEN_P would serve other hosts" \
  "a wildcard --listen"
assert_contains "$ERR" "add --insecure" "the way out named"
usage "$ESD" --data "$TMP/never" --listen "tcp://127.0.0.1:$OPEN_P" --publish "tcp://*:$OPEN_H"
assert_contains "$ERR" "--publish tcp://*:$OPEN_H would serve" "a wildcard --publish"
usage "$ESD" --data "$TMP/never" --http-listen "0.0.0.0:$OPEN_H"
assert_contains "$ERR" "--http-listen 0.0.0.0:$OPEN_H would serve" "a wildcard --http-listen"
usage "$ESD" --data "$TMP/never" --listen "tcp://eth0:$OPEN_P"
printf 'listen = "tcp://[::]:%s"\n' "$OPEN_P" >"$TMP/open.toml"
assert_exit 78 "$ESD" --config "$TMP/open.toml" --data "$TMP/never"
assert_contains "$ERR" "--listen tcp://[::]:$OPEN_P would serve" "from the file: status 78"
assert_exit 78 env ESD_INSECURE=maybe "$ESD" --data "$TMP/never"
assert_contains "$ERR" "ESD_INSECURE: it takes true or false" "a bad flag value"
[ ! -e "$TMP/never" ] || fail "esd made its data directory before refusing an open address"
printf 'insecure = true\n' >>"$TMP/open.toml"
assert_exit 0 "$ESD" --config "$TMP/open.toml" --print-config
assert_contains "$OUT" "insecure = true" "insecure from the file"
assert_exit 0 env ESD_INSECURE=yes "$ESD" --print-config
assert_eq "$(grep '^insecure ' <<<"$OUT" | tr -s ' ')" "insecure = true # env ESD_INSECURE" \
  "from the environment"
assert_exit 0 env ESD_INSECURE=0 "$ESD" --print-config
assert_contains "$OUT" "insecure = false" "ESD_INSECURE=0"
"$ESD" --data "$TMP/open" --listen "tcp://0.0.0.0:$OPEN_P" --publish "tcp://127.0.0.1:$OPEN_H" \
  --insecure 2>"$TMP/open.log" &
OPEN_PID=$!
ESD_PIDS+=("$OPEN_PID")
wait_for 15 "esd --insecure on 0.0.0.0 answers" "$ES" -s "tcp://127.0.0.1:$OPEN_P" status
grep -q "insecure: --listen tcp://0.0.0.0:$OPEN_P serves other hosts without authentication" \
  "$TMP/open.log" || fail "no warning for --insecure: $(cat "$TMP/open.log")"
assert_exit 0 "$ES" -s "tcp://127.0.0.1:$OPEN_P" stop
wait_pid "$OPEN_PID" 15
assert_eq "$WAIT_RC" "0" "esd --insecure stopped"
assert_exit 0 "$ESD" --data "$TMP/never" --listen "tcp://127.0.0.2:$OPEN_P" --print-config

check "commands: unknown ones are named, with the nearest; es help"
usage "$ES" apend x
assert_contains "$ERR" "es: error: unknown command 'apend'; did you mean 'append'?" "suggestion"
usage "$ES" frobnicate
assert_contains "$ERR" "unknown command 'frobnicate'" "no suggestion"
usage "$ES" project lst
assert_contains "$ERR" "'project' has no command 'lst'; did you mean 'list'?" "nested"
usage "$ES"
assert_contains "$ERR" "a command is required" "no command"
usage "$ES" read x --limt 3
assert_contains "$ERR" "es: error: es read has no option --limt; did you mean --limit?" "an option"
usage "$ES" retention x --max-cnt=3
assert_contains "$ERR" "es retention has no option --max-cnt; did you mean --max-count?" "option=value"
usage "$ESD" --data "$TMP/never" --heartbeet 3
assert_contains "$ERR" "esd: error: esd has no option --heartbeet; did you mean --heartbeat?" "esd's"
usage "$ES" project status --frobnicate
assert_contains "$ERR" "es project status has no option --frobnicate (\`es project status --help\` lists them)" \
  "no suggestion"
assert_exit 0 "$ES" help
assert_contains "$OUT" "Usage: es [OPTIONS] SUBCOMMAND" "es help"
assert_contains "$OUT" "append" "es help lists commands"
assert_exit 0 "$ES" help read
assert_contains "$OUT" "Usage: es read" "es help read"
assert_contains "$OUT" "--limit" "es help read"
assert_exit 0 "$ES" help project add
assert_contains "$OUT" "Usage: es project add" "es help project add"
usage "$ES" help nonsense
assert_contains "$ERR" "unknown command 'nonsense'" "es help nonsense"
usage "$ES" help raed
assert_contains "$ERR" "did you mean 'read'?" "es help raed"

check "empty values are named as empty"
usage "$ES" append "" -t T -d 1
assert_eq "$(head -1 <<<"$ERR")" "es: error: STREAM is empty" "empty STREAM"
usage "$ES" append x -t "" -d 1
assert_eq "$(head -1 <<<"$ERR")" "es: error: --type is empty" "empty --type"
usage "$ES" read ""
usage "$ES" tail --stream ""

# --- fail fast when nothing listens ----------------------------------------------
check "nothing listening: exit 5 at once, naming the endpoint"
closed=$(pick_port)
t0=$(ms_now)
assert_exit 5 "$ES" -s "tcp://127.0.0.1:$closed" status
took=$(($(ms_now) - t0))
assert_contains "$ERR" "es: error: nothing listens at tcp://127.0.0.1:$closed" "refused"
[ "$took" -lt 1000 ] || fail "es status took $took ms with nothing listening"
t0=$(ms_now)
assert_exit 5 "$ES" -s "ipc://$TMP/no.sock" read --all
took=$(($(ms_now) - t0))
assert_contains "$ERR" "nothing listens at ipc://$TMP/no.sock" "missing ipc socket"
[ "$took" -lt 1000 ] || fail "es read took $took ms with no ipc socket"
for cmd in "append s -t T -d 1" "streams" "stop" "subscriptions" "verify" "tail --no-reconnect"; do
  t0=$(ms_now)
  # shellcheck disable=SC2086
  assert_exit 5 "$ES" -s "tcp://127.0.0.1:$closed" $cmd
  took=$(($(ms_now) - t0))
  [ "$took" -lt 1000 ] || fail "es $cmd took $took ms with nothing listening"
done
check "es tail (reconnecting) waits its --timeout for a node that is not there yet"
t0=$(ms_now)
assert_exit 5 "$ES" -s "tcp://127.0.0.1:$closed" --timeout 1 tail
took=$(($(ms_now) - t0))
[ "$took" -ge 900 ] || fail "es tail gave up after $took ms, before its timeout"

check "... and takes a node that comes up meanwhile"
late=$(pick_port)
"$ES" -s "tcp://127.0.0.1:$late" --timeout 10 tail --from start --count 1 >"$TMP/late.out" 2>"$TMP/late.err" &
tail_pid=$!
bg_track "$tail_pid"
"$ES" -s "tcp://127.0.0.1:$late" --timeout 10 status --wait >"$TMP/wait.out" 2>"$TMP/wait.err" &
status_pid=$!
bg_track "$status_pid"
sleep 0.5
"$ESD" --data "$TMP/late" --listen "tcp://127.0.0.1:$late" --publish 'tcp://127.0.0.1:*' 2>"$TMP/esd.late.log" &
late_esd=$!
ESD_PIDS+=("$late_esd")
ESD_SERVERS[$late_esd]="tcp://127.0.0.1:$late"
check "es status --wait waits for a node that is starting, and only up to --timeout"
wait_pid "$status_pid" 10
assert_eq "$WAIT_RC" 0 "es status --wait's exit status (started before esd): $(cat "$TMP/wait.err")"
assert_eq "$(jq -r .role "$TMP/wait.out")" primary "es status --wait's answer"
t0=$(ms_now)
assert_exit 5 "$ES" -s "tcp://127.0.0.1:$closed" --timeout 0.4 status --wait
took=$(($(ms_now) - t0))
[ "$took" -ge 350 ] && [ "$took" -lt 3000 ] || fail "es status --wait on nothing took $took ms, not its 0.4 s"
assert_contains "$ERR" "waited 0.4 s (--timeout) for tcp://127.0.0.1:$closed" "es status --wait's error"
"$ES" -s "tcp://127.0.0.1:$late" append late-1 -t T -d 1 >/dev/null
wait_pid "$tail_pid" 10
assert_eq "$WAIT_RC" 0 "es tail's exit status"
assert_eq "$(jq -r .stream "$TMP/late.out")" late-1 "the event es tail waited for"
stop_esd "$late_esd"

start_esd "$TMP/data"
check "a node that is there but silent (SIGSTOP) is still a timeout"
kill -STOP "$ESD_PID"
t0=$(ms_now)
rc=0
"$ES" --timeout 1 status >/dev/null 2>"$TMP/silent.err" || rc=$?
took=$(($(ms_now) - t0))
kill -CONT "$ESD_PID"
assert_eq "$rc" 5 "exit status for a silent node"
assert_contains "$(cat "$TMP/silent.err")" "no answer from $ES_SERVER within 1 s" "timeout message"
[ "$took" -ge 900 ] || fail "a silent node was given up after $took ms"
assert_exit 0 "$ES" status

# --- -d @FILE, -d - ----------------------------------------------------------------
check "-d @FILE and -d -: data longer than a command line"
big=$(head -c 300000 /dev/zero | tr '\0' a)
printf '{"blob":"%s"}' "$big" >"$TMP/big.json"
assert_exit 0 "$ES" append big-1 -t Big -d "@$TMP/big.json" -m '{"from":"file"}'
assert_eq "$("$ES" read big-1 | jq -r '.data.blob | length')" 300000 "data from @FILE"
echo '{"k":"v"}' >"$TMP/meta.json"
assert_exit 0 "$ES" append big-1 -t Big -d - -m "@$TMP/meta.json" <"$TMP/big.json"
assert_eq "$("$ES" read big-1 --from 1 | jq -c '[(.data.blob | length), (.metadata | del(."$correlationId"))]')" '[300000,{"k":"v"}]' "data from stdin"
assert_exit 1 "$ES" append big-1 -t Big -d "@$TMP/missing.json"
assert_contains "$ERR" "cannot open $TMP/missing.json" "missing file"
usage "$ES" append big-1 -t Big -d - -m -

# --- NDJSON keys ----------------------------------------------------------------------
check "unknown keys are refused with the line and the nearest key"
h=$("$ES" status | jq .head)
assert_exit 1 "$ES" append keys-1 --atomic <<<'{"type":"T","data":1}
{"type":"T","data":2}
{"tpye":"T","type":"T","data":3}'
assert_contains "$ERR" "es: error: stdin line 3: unknown key \"tpye\"; did you mean \"type\"?" "typo"
assert_exit 1 "$ES" append keys-1 <<<'{"type":"T","data":1,"colour":"red"}'
assert_contains "$ERR" "line 1: unknown key \"colour\"" "unknown key"
assert_eq "$("$ES" status | jq .head)" "$h" "nothing appended"

check "es read A | es append B copies a stream (read's keys are accepted)"
printf '%s\n' '{"type":"A","data":1,"metadata":{"m":1}}' '{"type":"B","data":{"x":[1,2]}}' | "$ES" append src-1 >/dev/null
"$ES" read src-1 | jq -c 'del(.id)' | "$ES" append dst-1 >/dev/null
assert_eq "$("$ES" read dst-1 | jq -c '[.type, .data, .metadata]' | paste -sd' ')" \
  "$("$ES" read src-1 | jq -c '[.type, .data, .metadata]' | paste -sd' ')" "copied events, metadata as they were"
assert_eq "$("$ES" read dst-1 | jq -c '[.type, .data, (.metadata | del(."$correlationId"))]' | paste -sd' ')" \
  '["A",1,{"m":1}] ["B",{"x":[1,2]},{}]' "copied events"
# As read prints them, ids and all: each copy gets an id of its own, the
# same on every run, so copying again appends nothing.
assert_exit 0 "$ES" append dst-2 < <("$ES" read src-1)
assert_eq "$("$ES" read dst-2 | jq -c '[.type, .data, .metadata]' | paste -sd' ')" \
  "$("$ES" read src-1 | jq -c '[.type, .data, .metadata]' | paste -sd' ')" "events copied with their ids"
ids_src=$("$ES" read src-1 | jq -r .id | paste -sd' ')
ids_dst=$("$ES" read dst-2 | jq -r .id | paste -sd' ')
[ "$ids_src" != "$ids_dst" ] || fail "the copies kept their sources' ids"
head_before=$("$ES" status | jq .head)
assert_exit 0 "$ES" append dst-2 < <("$ES" read src-1)
assert_eq "$("$ES" status | jq .head)" "$head_before" "copying again appends nothing"
assert_eq "$("$ES" read dst-2 | jq -r .id | paste -sd' ')" "$ids_dst" "the copies' ids, again"

check "--atomic with a per-line expect: each stream's own, all checked"
"$ES" append acct-a -t Opened -d 0 >/dev/null
"$ES" append acct-b -t Opened -d 0 >/dev/null
"$ES" append acct-b -t Credited -d 5 >/dev/null
transfer() {
  printf '%s\n' "{\"stream\":\"acct-a\",\"type\":\"Debited\",\"data\":5,\"expect\":$1}" \
    "{\"stream\":\"acct-b\",\"type\":\"Credited\",\"data\":5,\"expect\":$2}"
}
h=$("$ES" status | jq .head)
assert_exit 3 "$ES" append --atomic < <(transfer 0 0)
assert_contains "$ERR" "stream acct-b: expected version 0, but it is at version 1" "conflict names the stream"
assert_exit 3 "$ES" append --atomic --expect 0 < <(transfer 0 '"no-stream"')
assert_eq "$("$ES" status | jq .head)" "$h" "nothing appended on conflict"
assert_exit 0 "$ES" append --atomic --expect no-stream < <(transfer 0 1)
assert_eq "$("$ES" read acct-a | jq -r .version | paste -sd' ')" "0 1" "acct-a"
assert_eq "$("$ES" read acct-b | jq -r .version | paste -sd' ')" "0 1 2" "acct-b"
assert_exit 1 "$ES" append < <(transfer 1 2)
assert_contains "$ERR" "\"expect\" goes with --atomic" "expect without --atomic"
assert_exit 1 "$ES" append --atomic <<<'{"stream":"acct-a","type":"T","data":1,"expect":"soon"}'
assert_contains "$ERR" "line 1: \"expect\": expected version must be" "bad expect"
assert_exit 1 "$ES" append --atomic <<<'{"stream":"acct-a","type":"T","data":1,"expect":1}
{"stream":"acct-a","type":"T","data":1,"expect":2}'
assert_contains "$ERR" "line 2: stream acct-a expects 1 on line 1" "two expects for a stream"

check "progress of a long append: on a terminal only, cleared at the end"
# Input paced past the half second after which progress shows (counted from
# es's start, which takes ~0.6 s under ASan: the pause is 2 s).
cat >"$TMP/paced.sh" <<'SH'
lines() { awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) print "{\"type\":\"T\",\"data\":" i "}" }'; }
{ lines 500; sleep 2; lines 500; } | "$1" append "$2" --batch 100
SH
bash "$TMP/paced.sh" "$ES" prog-1 >"$TMP/prog.out" 2>"$TMP/prog.err"
assert_eq "$(jq .count "$TMP/prog.out")" 1000 "events appended"
assert_eq "$(cat "$TMP/prog.err")" "" "stderr when it is not a terminal"
if command -v script >/dev/null; then
  script -qec "bash $TMP/paced.sh $ES prog-2 2>&1 >/dev/null" /dev/null >"$TMP/tty.out"
  grep -aq $'\res: appended [0-9,]* events ([0-9,]*/s)' "$TMP/tty.out" ||
    fail "no progress line on a terminal: $(od -c "$TMP/tty.out" | head -5)"
  assert_eq "$(tail -c 4 "$TMP/tty.out" | od -An -c | tr -s ' ')" ' \r 033 [ K' "the line is cleared at the end"
fi

stop_esd
assert_eq "$ESD_EXIT" 0 "esd exit status"

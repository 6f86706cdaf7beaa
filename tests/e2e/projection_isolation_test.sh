#!/usr/bin/env bash
# tests/e2e/projection_isolation_test.sh ESD ES: no projection takes its
# node down. Each projection runs in a worker process: a jq crash, a loop in
# `when` or in `from`, too much memory, a try at the environment, at files or
# at esd's log costs that projection alone (failed, with the reason), never
# esd, which answers throughout and does not crash again after a restart.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
DATA=$TMP/data
cd "$TMP"

# The node answers within a second, whatever a projection does.
answers() { "$ES" --timeout 1 status >/dev/null || fail "esd did not answer within 1 s ($1)"; }
status_of() { es project list | jq -r --arg n "$1" 'select(.name == $n) | .status'; }
error_of() { es project list | jq -r --arg n "$1" 'select(.name == $n) | .error'; }
# (jq 1.6's -e looks at the last input line only: slurp)
wait_failed() {
  wait_for 15 "projection $1 to be failed" bash -c "'$ES' project list | jq -s -e --arg n '$1' 'any(.name == \$n and .status == \"failed\")' >/dev/null"
}

# (ASan's shadow memory counts against RLIMIT_DATA: no memory limit there.)
# An event may take 1 s of CPU time: mem.jq's 256 MiB of string copies
# must reach the memory limit before the CPU limit on a slow machine.
memory=(--projection-memory 256M)
[ -z "${ASAN_OPTIONS:-}" ] || memory=()
# (a sanitizer build allows 5 times each CPU budget: es::kCpuBudgetScale)
cpu_scale=1
[ -z "${ASAN_OPTIONS:-}" ] || cpu_scale=5
SECRET_TOKEN=s3cret-value start_esd "$DATA" --projection-event-cpu 1000 --projection-start-cpu 300 \
  "${memory[@]}" --max-projections 6
for i in 1 2 3; do es append "s-$i" --type T --data "{\"i\":$i}" >/dev/null; done

check "a crash in jq (libjq's array overflow) fails that projection, with the signal and the event"
printf 'def when: [] | .[1500000000] = 1;\n' >oob.jq
es project add oob oob.jq >/dev/null
wait_failed oob
answers "after a crashing projection"
# (a plain build's libjq dies of SIGSEGV; under ASan, it spends its CPU
# budget on the 24 GB it asks for)
case "$(error_of oob)" in
  "projection oob: its worker was killed by SIG"* | "projection oob: the event at position 1 took more than"*) ;;
  *) fail "the reason: $(error_of oob)" ;;
esac
assert_eq "$(es project list | jq -r 'select(.name == "oob") | .error_position')" 1 "the event it crashed on"

check "import and include are refused at add, naming the line"
printf 'import "/etc/passwd" as $s;\ndef when: .state;\n' >abs.jq
assert_exit 1 es project add abs abs.jq
assert_contains "$ERR" "line 1: import is not available to projections" "import of an absolute path"
printf '# reads a file\nimport "secret" as $s {search: "/tmp"};\ndef when: $s;\n' >search.jq
assert_exit 1 es project add search search.jq
assert_contains "$ERR" "line 2: import is not available" "import with a search path"
printf 'include "lib";\ndef when: .state;\n' >inc.jq
assert_exit 1 es project add inc inc.jq
assert_contains "$ERR" "include is not available" "include"
printf 'def when: {import: "a # include", x: "\\(.event.data | tostring) import"} | .import;\n' >fine.jq
es project add fine fine.jq >/dev/null || fail "a program that only says import in strings and keys was refused"
answers "after refused imports"

check "a from that never ends is refused at add, within a second"
printf 'def from: (last(range(1e15)) | {});\ndef when: .state;\n' >from.jq
start=$(date +%s%N)
assert_exit 1 es project add from from.jq
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
assert_contains "$ERR" "compiling (with from and init) took more than 300 ms of CPU time" "the refusal"
[ "$elapsed_ms" -lt $((300 * cpu_scale + 1200)) ] || fail "es project add took $elapsed_ms ms"
answers "after a from that spins"

check "a when that never ends fails at its CPU limit; stop and start go on working"
printf 'def when: last(range(1e15));\n' >spin.jq
es project add spin spin.jq >/dev/null
answers "while a when spins"
wait_failed spin
assert_contains "$(error_of spin)" "the event at position 1 took more than 1000 ms of CPU time" "the reason"
es project start spin >/dev/null
answers "after starting it again"
es project stop spin >/dev/null
answers "after stopping it"

check "the environment is empty, input and input_filename give nothing, debug and stderr write nothing"
printf 'def when: {env: ($ENV | keys), env2: (env | length), file: input_filename, input: (try input catch "none")};\n' >env.jq
es project add env env.jq >/dev/null
wait_for 10 "env to reach the head" bash -c "'$ES' project status env | jq -e '.position == .head' >/dev/null"
# (a sanitizer build passes its own options on, and nothing else)
assert_eq "$(es state env s-1 | jq -c '.state | .env -= ["ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"] | .env2 = (.env | length)')" \
  '{"env":[],"env2":0,"file":null,"input":"none"}' "what jq sees"
printf 'def when: (.event | debug | stderr) | "MARK-\\(.event.position)-printed";\n' >dbg.jq
es project add dbg dbg.jq >/dev/null
wait_for 10 "dbg to reach the head" bash -c "'$ES' project status dbg | jq -e '.position == .head' >/dev/null"
grep -q '"position"' "$ESD_LOG" && fail "debug or stderr output reached esd's log: $(grep position "$ESD_LOG" | head -3)"
grep -q "s3cret" "$ESD_LOG" && fail "the environment reached the log"
es state env | grep -q s3cret && fail "the environment reached a state"

check "es replay runs files in the same sandbox: same states, and a crash or a loop ends only the replay"
assert_eq "$(SECRET_TOKEN=x es replay env.jq)" "$(es state env)" "es replay env.jq against the hosted states"
assert_exit 1 es replay spin.jq
assert_contains "$ERR" "projection spin: the event at position 1 took more than 1000 ms of CPU time" "a loop"
assert_exit 1 es replay oob.jq
case "$ERR" in
  *"projection oob: the replay was killed by SIG"* | *"projection oob: the event at position 1 took more than"*) ;;
  *) fail "es replay of a crashing file: $ERR" ;;
esac
assert_exit 1 es replay abs.jq
assert_contains "$ERR" "import is not available" "import in es replay"
answers "after the replays"

check "a projection over its memory limit fails alone"
if [ -n "${ASAN_OPTIONS:-}" ]; then
  echo "   (skipped: a sanitizer build's workers have no memory limit)"
else
  # (a string doubled 30 times: 1 GiB; libjq dies where an allocation fails)
  printf 'def when: reduce range(30) as $i ("x"; . + .) | length;\n' >mem.jq
  es project add mem mem.jq >/dev/null
  wait_failed mem
  assert_contains "$(error_of mem)" "projection mem: its worker was killed by SIG" "the reason"
  assert_contains "$(error_of mem)" "out of memory: esd --projection-memory" "the hint"
  answers "after a projection ran out of memory"
fi

check "the cap on running projections"
es project stop env >/dev/null
es project stop dbg >/dev/null
for n in c1 c2 c3 c4 c5 c6; do
  printf 'def when: .state;\n' >count.jq
  if ! es project add "$n" count.jq >"$TMP/add.out" 2>"$TMP/add.err"; then break; fi
done
assert_contains "$(cat "$TMP/add.err")" "runs 6 projections already, its limit (esd --max-projections)" "the refusal"
answers "at the cap"

check "esd restarted: failed projections stay failed, no crash loop"
stop_esd
assert_eq "$ESD_EXIT" 0 "esd's exit status"
pgrep -f -- "[-]-projection-worker.*projections=$DATA" >/dev/null && fail "workers outlived esd: $(pgrep -af -- --projection-worker)"
start_esd "$DATA" --projection-event-cpu 1000 --projection-start-cpu 300 --max-projections 6
for _ in 1 2 3 4 5 6 7 8 9 10; do answers "after a restart"; sleep 0.2; done
assert_eq "$(status_of oob)" failed "oob after a restart"
assert_eq "$(status_of spin)" stopped "spin after a restart"
kill -0 "$ESD_PID" || fail "esd died after the restart"

check "kill -9 of esd takes its workers with it"
pid=$ESD_PID
kill -9 "$pid"
wait_pid "$pid" 5
# ([-] keeps this bash -c's own command line from matching)
wait_for 5 "the workers to end" bash -c "! pgrep -f -- '[-]-projection-worker.*projections=$DATA' >/dev/null"
echo "PASS"

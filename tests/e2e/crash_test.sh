#!/usr/bin/env bash
# tests/e2e/crash_test.sh ESD ES: kill -9 under load loses no acknowledged
# event and leaves positions and versions gapless. Four writers (two
# appending single events, two appending batches of 50) record an event id
# only after es exited 0; esd is killed with SIGKILL while they run, then
# restarted on the same directory and checked. Done twice: with the default
# journal, then with the smallest (256 KiB), which the writers wrap around
# many times and fill (appends wait for LMDB to catch up) before the kill.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
export LC_ALL=C
data=$TMP/data
max_iterations=3000   # per writer and round
writer_seconds=30     # a writer never runs longer than this

# single_writer K ROUND: appends one event per es call to stream cK.
single_writer() {
  local k=$1 round=$2 i id out
  local deadline=$((SECONDS + writer_seconds))
  for i in $(seq 1 "$max_iterations"); do
    [ "$SECONDS" -lt "$deadline" ] || break
    id=$(new_uuid)
    out=$("$ES" --timeout 3 append "c$k" --type T --data '{"n":'"$i"',"round":'"$round"'}' --id "$id" 2>/dev/null) || break
    printf '%s %s\n' "$id" "$out" >>"$TMP/acked.single.$k"
  done
}

# batch_writer K ROUND: appends batches of 50 events (ids given) to cK.
batch_writer() {
  local k=$1 round=$2 i j out u
  local deadline=$((SECONDS + writer_seconds))
  for i in $(seq 1 "$max_iterations"); do
    [ "$SECONDS" -lt "$deadline" ] || break
    for j in $(seq 0 49); do
      read -r u </proc/sys/kernel/random/uuid
      printf '{"type":"B","data":{"i":%d,"j":%d,"round":%d},"id":"%s"}\n' "$i" "$j" "$round" "$u"
    done >"$TMP/batch.$k"
    out=$("$ES" --timeout 3 append "c$k" <"$TMP/batch.$k" 2>/dev/null) || break
    # the ids in order, then the summary line
    { jq -r .id "$TMP/batch.$k" | paste -sd' '; echo "$out"; } >>"$TMP/acked.batch.$k"
  done
}

acked_count() {
  local f n=0
  for f in "$TMP"/acked.*; do [ -f "$f" ] && n=$((n + $(wc -l <"$f"))); done
  echo "$n"
}
every_writer_acked() {
  local k
  for k in 1 2; do [ "$(grep -c . "$TMP/acked.single.$k" 2>/dev/null)" -ge $((3 * $1)) ] || return 1; done
  for k in 3 4; do [ "$(grep -c . "$TMP/acked.batch.$k" 2>/dev/null)" -ge $((2 * $1)) ] || return 1; done
}

# The checks after a restart.
verify() {
  es read --all >"$TMP/all"
  local head
  head=$(es status | jq .head)
  check "positions are exactly 1..$head"
  jq -r .position "$TMP/all" >"$TMP/positions"
  seq 1 "$head" | cmp -s - "$TMP/positions" || fail "positions are not exactly 1..$head"
  check "versions are gapless from 0 in every stream"
  jq -r '"\(.stream) \(.version)"' "$TMP/all" |
    awk '{ want = ($1 in next_v) ? next_v[$1] : 0
           if ($2 != want) { print "stream " $1 ": version " $2 " where " want " was due"; bad = 1; exit }
           next_v[$1] = want + 1 }
         END { exit bad }' || fail "a stream's versions have a gap or a repeat"
  check "event ids are unique"
  jq -r .id "$TMP/all" | sort | uniq -d >"$TMP/dups"
  [ ! -s "$TMP/dups" ] || fail "ids stored twice: $(head -3 "$TMP/dups")"
  check "every acknowledged event is stored, at the position it was acknowledged with"
  jq -r '"\(.id) \(.position) \(.stream) \(.version)"' "$TMP/all" | sort >"$TMP/stored"
  : >"$TMP/expected"
  local f id pos ids
  for f in "$TMP"/acked.single.*; do
    # "ID SUMMARY": one event at first_position
    cut -d' ' -f2- "$f" | jq -r '"\(.count) \(.first_position) \(.last_position)"' >"$TMP/summaries"
    awk '$1 != 1 || $2 != $3 { print; bad = 1 } END { exit bad }' "$TMP/summaries" >"$TMP/bad" ||
      fail "a single append's summary is not one event: $(head -1 "$TMP/bad")"
    cut -d' ' -f1 "$f" | paste -d' ' - <(cut -d' ' -f2 "$TMP/summaries") >>"$TMP/expected"
  done
  for f in "$TMP"/acked.batch.*; do
    # pairs of lines: the 50 ids in order, then the summary
    sed -n 2~2p "$f" | jq -r '"\(.count) \(.first_position) \(.last_position)"' >"$TMP/summaries"
    awk '$1 != 50 || $3 - $2 != 49 { print; bad = 1 } END { exit bad }' "$TMP/summaries" >"$TMP/bad" ||
      fail "a batch summary is not 50 contiguous positions: $(head -1 "$TMP/bad")"
    while read -r ids && read -r _ pos _; do
      for id in $ids; do
        echo "$id $pos" >>"$TMP/expected"
        pos=$((pos + 1))
      done
    done < <(paste -d'\n' <(sed -n 1~2p "$f") "$TMP/summaries")
  done
  sort -o "$TMP/expected" "$TMP/expected"
  local n
  n=$(wc -l <"$TMP/expected")
  [ "$n" -gt 0 ] || fail "no acknowledged events to check"
  cut -d' ' -f1,2 "$TMP/stored" | join - "$TMP/expected" >"$TMP/joined"
  [ "$(wc -l <"$TMP/joined")" -eq "$n" ] ||
    fail "$((n - $(wc -l <"$TMP/joined"))) acknowledged events are missing after the crash; e.g. $(cut -d' ' -f1 "$TMP/expected" | sort | comm -23 - <(cut -d' ' -f1 "$TMP/stored") | head -3)"
  awk '$2 != $3 { print; bad = 1 } END { exit bad }' "$TMP/joined" >"$TMP/moved" ||
    fail "acknowledged events at other positions than acknowledged (id acked stored): $(head -3 "$TMP/moved")"
  echo "   $n acknowledged events present; head $head"
}

crash_round() {
  local round=$1
  shift
  start_esd "$data" "$@"
  local head_before
  head_before=$(es status | jq .head)
  check "round $round ($*): four writers append; esd is killed with SIGKILL under load"
  rm -f "$TMP"/acked.single.* "$TMP"/acked.batch.*
  local pids=() k
  for k in 1 2; do single_writer "$k" "$round" & pids+=($!); bg_track $!; done
  for k in 3 4; do batch_writer "$k" "$round" & pids+=($!); bg_track $!; done
  wait_for 30 "every writer to get a few acknowledgements" every_writer_acked 1
  sleep 1.5
  # (stderr off: bash would report the kill of its job as "Killed")
  { kill -KILL "$ESD_PID"; wait_pid "$ESD_PID" 10; } 2>/dev/null
  assert_eq "$WAIT_RC" 137 "esd exit status after SIGKILL"
  for k in "${pids[@]}"; do wait_pid "$k" 40; done
  echo "   $(acked_count) acknowledgement lines before the kill"
  cp "$TMP"/acked.single.* "$TMP"/acked.batch.* "$TMP/round$round/"
  check "restart on the same directory"
  start_esd "$data"
  [ "$(es status | jq .head)" -gt "$head_before" ] || fail "the head did not move"
  verify
  stop_esd
  assert_eq "$ESD_EXIT" 0 "esd exit status"
}

mkdir -p "$TMP/round1" "$TMP/round2"
crash_round 1
crash_round 2 --journal-size 256K
check "both rounds' acknowledged events are still there"
rm -f "$TMP"/acked.*
for f in "$TMP"/round1/acked.* "$TMP"/round2/acked.*; do
  cat "$f" >>"$TMP/$(basename "$f").all"
done
for f in "$TMP"/*.all; do mv "$f" "${f%.all}"; done
start_esd "$data"
verify
stop_esd
assert_eq "$ESD_EXIT" 0 "esd exit status"

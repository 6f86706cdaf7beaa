#!/usr/bin/env bash
# tests/e2e/io_error_test.sh ESD ES: a storage error is never acknowledged
# past. EIO and ENOSPC are injected (strace's inject=) into the journal's
# frame writes and into LMDB's page writes and flushes: the group that
# failed is not acknowledged, esd exits 3, and after a restart the store
# holds every acknowledged event (from the journal where LMDB missed them).
# Skipped (exit 0 with a note) where strace cannot trace here.
source "$(dirname "$0")/lib.sh"
e2e_init "$@"
command -v strace >/dev/null || { echo "SKIP: no strace"; exit 0; }
strace -qq -o /dev/null true 2>/dev/null || { echo "SKIP: strace cannot trace here"; exit 0; }
export LC_ALL=C

# scenario NAME FILE STRACE_ARGS...: starts esd on a fresh directory under
# strace, which injects into syscalls on FILE (journal or data.mdb) of the
# data directory, appends until an append fails (at most 60), and checks.
scenario() {
  local name=$1 file=$2
  shift 2
  local data=$TMP/$name
  check "$name"
  # A store that exists already: the journal and LMDB are made before strace.
  start_esd "$data" --journal-size 1M
  stop_esd
  local port
  port=$(pick_port)
  export ES_SERVER="tcp://127.0.0.1:$port"
  ESD_COUNT=$((ESD_COUNT + 1))
  ESD_LOG="$TMP/esd.$ESD_COUNT.log"
  # (LeakSanitizer cannot run under ptrace: off for this esd in the ASan pass)
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" strace -f -qq -o /dev/null -P "$data/$file" "$@" \
    "$ESD" --data "$data" --listen "$ES_SERVER" --publish 'tcp://127.0.0.1:*' 2>"$ESD_LOG" &
  local pid=$!
  bg_track "$pid"
  wait_for 15 "esd under strace to answer" "$ES" --timeout 1 status
  local acked=0 i rc
  for i in $(seq 1 60); do
    rc=0
    "$ES" --timeout 3 append "s-$name" --type T --data "{\"i\":$i}" >/dev/null 2>"$TMP/err" || rc=$?
    [ "$rc" -eq 0 ] || break
    acked=$i
    sleep 0.05
  done
  [ "$rc" -ne 0 ] || fail "$name: no append failed"
  wait_pid "$pid" 15
  assert_eq "$WAIT_RC" 3 "$name: esd's exit status (storage failed)"
  grep -q "nothing after it is acknowledged\|storage failed" "$ESD_LOG" || fail "$name: esd did not say why: $(tail -3 "$ESD_LOG")"
  echo "   $acked acknowledged, then: $(head -c 200 "$TMP/err")"
  start_esd "$data"
  local head
  head=$(es status | jq .head)
  [ "$head" -ge "$acked" ] || fail "$name: head $head after restart, but $acked were acknowledged"
  [ "$(es read "s-$name" | jq -s 'map(.data.i) == [range(1; '"$acked"' + 1)]')" = true ] ||
    fail "$name: the acknowledged events are not all there: $(es read "s-$name" | jq -c .data)"
  es verify >/dev/null || fail "$name: es verify failed"
  stop_esd
}

# The journal's 5th frame write fails: the 5th append is not acknowledged.
scenario journal-eio journal -e trace=pwrite64 -e inject=pwrite64:error=EIO:when=5
scenario journal-enospc journal -e trace=pwrite64 -e inject=pwrite64:error=ENOSPC:when=5
# LMDB's first flush after the start (the applier's first commit) fails:
# appends acknowledged before it are in the journal only.
scenario lmdb-fdatasync-eio data.mdb -e trace=fdatasync -e inject=fdatasync:error=EIO:when=2
scenario lmdb-write-enospc data.mdb -e trace=writev -e inject=writev:error=ENOSPC:when=2

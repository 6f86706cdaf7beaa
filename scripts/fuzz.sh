#!/usr/bin/env bash
# Fuzzes the decoders that see outside bytes (tests/fuzz/fuzz_*.cc) with
# libFuzzer: builds the harnesses with clang++ in build-fuzz/ (ES_FUZZ=ON:
# only them and what they link), then runs each for SECONDS (default 30)
# from its seed corpus (tests/fuzz/corpus/<harness>/) and past crashes
# (tests/fuzz/regressions/<harness>/). New corpus entries go to a temp dir,
# never into the repo. Fails if a harness crashes, and names
# the input that did: fix the decoder, then add the input to
# tests/fuzz/regressions/<harness>/ (the fuzz_regressions_* tests replay
# them in every build).
#   scripts/fuzz.sh [SECONDS]
#   ES_FUZZ_KEEP=DIR scripts/fuzz.sh 300   keep the grown corpus in DIR
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
scripts/deps.sh
cmake -S . -B build-fuzz -DES_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null

work=${ES_FUZZ_KEEP:-$(mktemp -d -t es-fuzz.XXXXXX)}
mkdir -p "$work"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan.supp
# The harnesses read their temp files under TMPDIR; esd's settings must
# come from the fuzzed file alone.
unset $(env | sed -n 's/^\(ESD_[A-Z_]*\)=.*/\1/p') ESD_CONFIG 2>/dev/null || true

# harness:max_len (bytes): bounds that cover what each decoder is given.
harnesses=(fuzz_wire:4096 fuzz_json:4096 fuzz_record:1024 fuzz_journal:8192 fuzz_config:4096)
failed=0
for entry in "${harnesses[@]}"; do
  h=${entry%%:*}
  max_len=${entry#*:}
  mkdir -p "$work/$h" "$work/$h.crashes"
  log=$work/$h.log
  seeds=(tests/fuzz/corpus/"$h")
  [ -d tests/fuzz/regressions/"$h" ] && seeds+=(tests/fuzz/regressions/"$h")
  if build-fuzz/tests/fuzz/"$h" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/$h.crashes/" \
      "$work/$h" "${seeds[@]}" >"$log" 2>&1; then
    stats=$(grep -E '^#[0-9]+.*DONE' "$log" | tail -1 | sed 's/^#\([0-9]*\).*cov: \([0-9]*\).*exec\/s: \([0-9]*\).*/\1 runs, cov \2, \3 exec\/s/')
    echo "fuzz: $h: ok ($stats)"
  else
    failed=1
    echo "fuzz: $h: FAILED; the log: $log" >&2
    grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5 >&2 || true
    for crash in "$work/$h.crashes"/*; do
      [ -e "$crash" ] && echo "fuzz: $h: reproduce with: build-fuzz/tests/fuzz/$h $crash" >&2
    done
  fi
done
if [ "$failed" = 0 ] && [ -z "${ES_FUZZ_KEEP:-}" ]; then rm -rf "$work"; fi
exit "$failed"

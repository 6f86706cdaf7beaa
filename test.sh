#!/usr/bin/env bash
# Runs the whole test suite: installs the packages, builds with warnings as
# errors, runs every test (unit, end-to-end, man page lint, completions).
#   ./test.sh                  build in build/ and test
#   ES_SANITIZE=1 ./test.sh    the same with ASan + UBSan, in build-asan/, but
#                              for the tests labelled "shim" (an LD_PRELOAD
#                              shim does not mix with ASan) and "once"
#                              (packaging, manifests: nothing a sanitizer adds)
set -euo pipefail
cd "$(dirname "$0")"
scripts/deps.sh
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DES_WERROR=ON)
skip=()
if [ "${ES_SANITIZE:-0}" = 1 ]; then
  dir=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DES_WERROR=ON -DES_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  skip=(-LE 'shim|once')
fi
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure --timeout 600 -j1 "${skip[@]}"

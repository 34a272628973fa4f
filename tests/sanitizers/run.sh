#!/usr/bin/env bash
# Runs a test command of an EMBER_SANITIZE build (ASan + UBSan): CTest starts
# every test, and Catch's test discovery, through this script (see
# tests/CMakeLists.txt). It sets the sanitizer options and suppression files
# (tests/sanitizers/*.supp) for every ember process the test starts, and
# shorter trial counts for the slow fault tests; values already in the
# environment win.
#   tests/sanitizers/run.sh <command> [args...]
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# halt_on_error + exitcode 66: a report fails the test with a status no test
# expects (bad_input accepts only 1 and 2). detect_leaks: LeakSanitizer at
# exit. abort_on_error=0: no core dumps.
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:exitcode=66:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:detect_invalid_pointer_pairs=0}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$here/lsan.supp:print_suppressions=0:exitcode=66}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-suppressions=$here/ubsan.supp:print_stacktrace=1:halt_on_error=1:exitcode=67}"
# Fault tests: fewer trials (each run is several times slower under ASan).
export EMBER_KILL_TRIALS="${EMBER_KILL_TRIALS:-5}"
export EMBER_SIGINT_TRIALS="${EMBER_SIGINT_TRIALS:-2}"
exec "$@"

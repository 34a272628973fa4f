#!/usr/bin/env bash
# Build the libFuzzer targets (clang, build-fuzz/) and run each for SECONDS
# (default 60) from its seed corpus in tests/fuzz/corpus/<target>/ and the
# inputs that once crashed it, tests/fuzz/regressions/<target>/.
#   bash scripts/fuzz.sh [seconds] [target...]   # targets: tokenizer decode
#                                                # config checkpoint pth safetensors
#                                                # instruction_data csv
#                                                # (default: all)
# Each target runs on one core, as many at once as there are cores
# (EMBER_FUZZ_PARALLEL); what it learns is kept in
# build-fuzz/corpus/<target>/ (reused by the next run), a crashing input is
# written to build-fuzz/artifacts/<target>-crash-<sha1> and the script exits
# non-zero. One summary line per target: runs, seconds, corpus size.
# Environment: EMBER_FUZZ_BUILD_DIR (default build-fuzz), EMBER_FUZZ_JOBS
# (build parallelism, default 2).
set -euo pipefail
all_targets=(tokenizer decode config checkpoint pth safetensors instruction_data csv)
secs="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || {
    echo "fuzz: unknown target '$t' (expected: ${all_targets[*]})" >&2
    exit 2
  }
done
[[ "$secs" =~ ^[0-9]+$ ]] || {
  echo "fuzz: seconds must be a whole number (got '$secs')" >&2
  exit 2
}
command -v clang++ >/dev/null || {
  echo "fuzz: clang++ not found; hint: bash scripts/setup.sh installs clang" >&2
  exit 2
}
root="$(cd "$(dirname "$0")/.." && pwd)"
b="${EMBER_FUZZ_BUILD_DIR:-$root/build-fuzz}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CXX=clang++ CC=clang cmake -S "$root" -B "$b" -G Ninja -DEMBER_FUZZ=ON -DEMBER_TESTS=OFF \
  -DEMBER_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null
cmake --build "$b" -j "${EMBER_FUZZ_JOBS:-2}" --target "${targets[@]/%/_fuzz}"

# Longest input per target: checkpoints need room for a small real one;
# safetensors room for a header nested past its depth limit (64) many times
# over (a 100,000-deep header overflowed the stack, issue 22).
max_len() {
  case "$1" in
    checkpoint | pth) echo 65536 ;;
    safetensors) echo 262144 ;;
    config | instruction_data | csv) echo 4096 ;;
    *) echo 1024 ;;
  esac
}
# LibTorch-internal leaks that are suppressed, and why: the .supp file.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0}"
# fuzz_one TARGET: runs it, writes its summary line to $b/summary-TARGET and,
# when it failed, the report (sanitizer or libFuzzer, with its stack, then
# the ending) to $b/report-TARGET.
fuzz_one() {
  local t="$1" work="$b/corpus/$1" log="$b/fuzz-$1.log" rc=0 runs units
  mkdir -p "$work" "$b/artifacts"
  # Inputs that once crashed the target are replayed first, every run.
  local regressions=()
  [[ -d "$root/tests/fuzz/regressions/$t" ]] && regressions=("$root/tests/fuzz/regressions/$t")
  "$b/${t}_fuzz" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=30 \
    -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$b/artifacts/$t-" \
    "$work" "$root/tests/fuzz/corpus/$t" "${regressions[@]}" >"$log" 2>&1 || rc=$?
  runs="$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -1)"
  units="$(ls "$work" | wc -l)"
  if ((rc != 0)); then
    {
      sed -n '/==[0-9]*==ERROR\|ERROR: libFuzzer\|runtime error:/,$p' "$log" |
        grep -v '^    #[0-9]* 0x[0-9a-f]* in fuzzer::' | head -60
      tail -8 "$log"
      grep -m1 '^INFO: Seed:' "$log" || true
    } >"$b/report-$t"
    echo "$t: FAILED (exit $rc), see $log and $b/artifacts/" >"$b/summary-$t"
  else
    echo "$t: ok, ${runs:-? runs}, corpus $units inputs" >"$b/summary-$t"
  fi
}
# Each target is one process on one core: EMBER_FUZZ_PARALLEL of them at a
# time (default: the number of cores), every one for the full SECONDS.
parallel="${EMBER_FUZZ_PARALLEL:-$(nproc)}"
[[ "$parallel" =~ ^[1-9][0-9]*$ ]] || {
  echo "fuzz: EMBER_FUZZ_PARALLEL must be a positive whole number (got '$parallel')" >&2
  exit 2
}
for t in "${targets[@]}"; do rm -f "$b/summary-$t" "$b/report-$t"; done
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
  echo "fuzz: $t for ${secs}s (log: $b/fuzz-$t.log)"
  fuzz_one "$t" &
done
wait
status=0
for t in "${targets[@]}"; do
  if [[ ! -f "$b/summary-$t" ]]; then
    status=1
    echo "$t: FAILED: its run ended before writing a summary (see $b/fuzz-$t.log)" >"$b/summary-$t"
  elif [[ -f "$b/report-$t" ]]; then
    status=1
    cat "$b/report-$t" >&2
  fi
done
for t in "${targets[@]}"; do echo "fuzz: $(cat "$b/summary-$t")"; done
exit "$status"

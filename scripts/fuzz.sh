#!/usr/bin/env bash
# Build the libFuzzer targets (clang, build-fuzz/) and run each for SECONDS
# (default 60) from its seed corpus in tests/fuzz/corpus/<target>/.
#   bash scripts/fuzz.sh [seconds]
set -euo pipefail
secs="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
b="$root/build-fuzz"
CXX=clang++ CC=clang cmake -S "$root" -B "$b" -G Ninja -DEMBER_FUZZ=ON -DEMBER_TESTS=OFF \
  -DEMBER_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$b" -j2 --target tokenizer_fuzz
for t in tokenizer; do
  work="$b/corpus/$t"
  mkdir -p "$work"
  echo "fuzz: $t for ${secs}s"
  "$b/${t}_fuzz" -max_total_time="$secs" -max_len=512 "$work" "$root/tests/fuzz/corpus/$t"
done

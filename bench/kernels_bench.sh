#!/usr/bin/env bash
# build/bench/kernels_bench (bench/kernels_bench.cpp: ember's AdamW,
# dropout, bf16 loss and bf16 GELU against LibTorch's, same run) with the
# heap settings `ember train` runs under (large buffers reused, not
# returned to the kernel and faulted in again each step).
#   bash bench/kernels_bench.sh [threads=2] [batch=2] [repeats=5]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/bench/lib/machine.sh"
print_cpu "${1:-2}"
MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824 \
  "$root/build/bench/kernels_bench" "${1:-2}" "${2:-2}" "${3:-5}"

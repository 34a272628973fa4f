#!/usr/bin/env bash
# GradientReducer's row-sparse path over Gloo on loopback, 2 processes: for
# random ids (few, many with repeats, none on one rank, a rank without
# backward) the table's averaged gradient has the dense path's bits and the
# closed form's values; a tied table stays dense (dist_worker row-sparse).
set -euo pipefail
# Needs the Gloo backend (a LibTorch without Gloo's headers builds without it).
"$1" --version | grep -q 'backends:.*gloo' ||
  { echo "skipped: no Gloo in this build: $("$1" --version)"; exit 77; }
worker="$(dirname "$1")/tests/ember_dist_worker"
port=$((20000 + RANDOM % 20000))
pids=()
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    timeout 60 "$worker" row-sparse &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status

#!/usr/bin/env bash
# A rank killed mid-run (kill -9) makes the other exit non-zero with a clear
# one-line error within the collective timeout (train.dist_timeout_s = 20),
# instead of hanging.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/dist.sh"
ember="$1"
src="$2"
cd "$src"
w="$(mktemp -d)"
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$w"' EXIT
port=$((20000 + RANDOM % 20000))
args=(train --config configs/debug.toml --set train.max_steps=100000 --set train.epochs=1000
      --set train.dist_timeout_s=20 --set run.dir="$w/run")
RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$ember" "${args[@]}" >"$w/r1.log" 2>&1 &
victim=$!
RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 90 "$ember" "${args[@]}" \
  >"$w/r0.log" 2>"$w/r0.err" &
survivor=$!
# Kill rank 1 once training is under way (rank 0 logged an evaluation).
for _ in $(seq 1 300); do
  grep -q "train loss" "$w/r0.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "train loss" "$w/r0.log" || { echo "training never started"; cat "$w"/r*.log "$w/r0.err"; exit 1; }
kill -9 "$victim"
start=$(date +%s)
set +e
wait "$survivor"
status=$?
set -e
elapsed=$(($(date +%s) - start))
echo "survivor: exit $status after ${elapsed}s: $(cat "$w/r0.err")"
[[ $status -ne 0 && $status -ne 124 && $status -lt 128 ]] || { echo "expected a clean non-zero exit"; exit 1; }
[[ $elapsed -le 40 ]] || { echo "took ${elapsed}s"; exit 1; }
[[ $(wc -l <"$w/r0.err") -eq 1 ]] || { echo "expected one line on stderr"; exit 1; }
grep -q "distributed" "$w/r0.err"

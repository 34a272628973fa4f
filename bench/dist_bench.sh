#!/usr/bin/env bash
# Distributed overhead: `ember train` on the default config
# (configs/verdict.toml, dropout off) as 1 process with 2 threads and global
# batch B, and as 2 processes (Gloo, loopback) with 1 thread each and batch
# B/2: the same windows per step. Reports tokens/s (the driver's "done"
# line: tokens / loop time, one evaluation at step 1 included on both sides)
# and the time each step waited for the gradient all-reduce, as a share of
# the step. Prints a markdown table.
#
#   bash bench/dist_bench.sh [ember-binary]
# Environment: STEPS (default 21), BATCH (global batch, default 2)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
steps="${STEPS:-21}"
batch="${BATCH:-2}"
cd "$root"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
common=(--config configs/verdict.toml --set train.device=cpu --set train.max_steps="$steps"
        --set train.eval_freq=100000 --set model.drop_rate=0.0 --set run.checkpoint_every=0)

"$ember" train "${common[@]}" --set train.threads=2 --set data.batch_size="$batch" \
  --set run.dir="$w/one" >"$w/one.log"
port=$((20000 + RANDOM % 20000))
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$ember" train "${common[@]}" \
    --set train.threads=1 --set data.batch_size=$((batch / 2)) --set run.dir="$w/two" \
    >"$w/rank$r.log" 2>&1 &
done
wait

python3 - "$w" "$batch" <<'PY'
import re, sys, pathlib
w, batch = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def done(log):
    m = re.search(r"done: (\d+) steps, (\d+) tokens seen; ([\d.]+) s, (\d+) tokens/s", (w / log).read_text())
    return int(m.group(1)), float(m.group(4))
steps1, tps1 = done("one.log")
steps2, tps2 = done("rank0.log")
m = re.search(r"wait ([\d.]+) ms/step of ([\d.]+) ms/step \(([\d.]+)%\)", (w / "rank0.log").read_text())
wait_ms, step_ms, share = map(float, m.groups())
print(f"{steps1} steps of global batch {batch} x 256 tokens, dropout off, CPU\n")
print("| processes | threads each | batch each | tokens/s | vs 1 process | all-reduce wait (ms/step) | share of step |")
print("|---:|---:|---:|---:|---:|---:|---:|")
print(f"| 1 | 2 | {batch} | {tps1:.0f} | 1.00x | - | - |")
print(f"| 2 (Gloo, loopback) | 1 | {batch // 2} | {tps2:.0f} | {tps2 / tps1:.2f}x | {wait_ms:.1f} of {step_ms:.1f} | {share:.1f}% |")
PY

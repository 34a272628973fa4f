#!/usr/bin/env bash
# Distributed overhead: `ember train` on the default config
# (configs/verdict.toml, dropout off) as 1 process with 2 threads and global
# batch B, and as 2 processes (Gloo, loopback) with 1 thread each and batch
# B/2: the same windows per step. The 2-process run is made with the token
# embedding reduced by rows (train.dist_sparse_embedding = true, the default)
# and as a whole table (false), and, given BEFORE=<an older ember binary>,
# with that binary too: before and after in one run. Reports tokens/s (the
# driver's "done" line: tokens / loop time, one evaluation at step 1 included
# on every side) and the time each step waited for the gradient all-reduce,
# as a share of the step, with the largest bucket wait. REPEAT runs each
# configuration that many times, interleaved, and reports the median run (by
# share). Prints the load average before and after, then a markdown table.
#
#   bash bench/dist_bench.sh [ember-binary]
# Environment: STEPS (default 21), BATCH (global batch, default 2),
# REPEAT (default 1), BEFORE (optional binary for a "before" row)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
steps="${STEPS:-21}"
batch="${BATCH:-2}"
repeat="${REPEAT:-1}"
before="${BEFORE:-}"
cd "$root"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
# The default config without the key an older binary (BEFORE) would refuse;
# its default (true) is what the file says.
grep -v '^dist_sparse_embedding' configs/verdict.toml >"$w/verdict.toml"
common=(--config "$w/verdict.toml" --set train.device=cpu --set train.max_steps="$steps"
        --set train.eval_freq=100000 --set model.drop_rate=0.0 --set run.checkpoint_every=0)

two_ranks() {  # log-name, binary, extra args...
  local name="$1" bin="$2" port=$((20000 + RANDOM % 20000)) r
  shift 2
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$bin" train "${common[@]}" \
      --set train.threads=1 --set data.batch_size=$((batch / 2)) --set run.dir="$w/$name" "$@" \
      >"$w/$name.rank$r.log" 2>&1 &
  done
  wait
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$repeat"); do
  "$ember" train "${common[@]}" --set train.threads=2 --set data.batch_size="$batch" \
    --set run.dir="$w/one.$i" >"$w/one.$i.log"
  if [[ -n "$before" ]]; then two_ranks "before.$i" "$before"; fi
  two_ranks "whole.$i" "$ember" --set train.dist_sparse_embedding=false
  two_ranks "rows.$i" "$ember"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$w" "$batch" "$repeat" "$before" <<'PY'
import re, sys, pathlib, statistics
w, batch, repeat, before = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def done(log):
    m = re.search(r"done: (\d+) steps, (\d+) tokens seen; ([\d.]+) s, (\d+) tokens/s", (w / log).read_text())
    return int(m.group(1)), float(m.group(4))
def dist(name):
    runs = []
    for i in range(1, repeat + 1):
        text = (w / f"{name}.{i}.rank0.log").read_text()
        m = re.search(r"wait ([\d.]+) ms/step of ([\d.]+) ms/step \(([\d.]+)%\)", text)
        buckets = [float(x) for x in re.findall(r"wait ([\d.]+) ms/step\n", text)]
        steps, tps = done(f"{name}.{i}.rank0.log")
        runs.append((float(m.group(3)), float(m.group(1)), float(m.group(2)), tps,
                     max(buckets) if buckets else None))
    shares = " / ".join(f"{r[0]:.1f}" for r in runs)  # in run order
    runs.sort()
    return runs[len(runs) // 2] + (shares,)  # the median by share (upper if even)
ones = sorted(done(f"one.{i}.log")[1] for i in range(1, repeat + 1))
tps1 = ones[len(ones) // 2]
steps1 = done("one.1.log")[0]
print(f"\n{steps1} steps of global batch {batch} x 256 tokens, dropout off, CPU; "
      f"median of {repeat} run(s) each\n")
print("| processes | token embedding all-reduce | tokens/s | vs 1 process | wait (ms/step) | share of step | largest bucket wait (ms/step) | share, each run (%) |")
print("|---|---|---:|---:|---:|---:|---:|---|")
print(f"| 1, 2 threads, batch {batch} | - | {tps1:.0f} | 1.00x | - | - | - | - |")
rows = []
if before:
    rows.append(("before", f"as that build does by default (`BEFORE={before}`)"))
rows += [("whole", "whole table, in place (`dist_sparse_embedding=false`)"),
         ("rows", "union of the batch's rows (default)")]
for name, what in rows:
    share, wait, step, tps, largest, shares = dist(name)
    big = f"{largest:.1f}" if largest is not None else "-"
    print(f"| 2 (Gloo, loopback), 1 thread, batch {batch // 2} each | {what} | {tps:.0f} | "
          f"{tps / tps1:.2f}x | {wait:.1f} of {step:.1f} | {share:.1f}% | {big} | {shares} |")
PY

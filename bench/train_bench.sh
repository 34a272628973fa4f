#!/usr/bin/env bash
# Training throughput: `ember train` against the PyTorch reference loop
# (tests/reference/train_reference.py, the same program the parity test
# checks) on the same config, threads and machine, in one run. Prints a
# markdown table: tokens/s (tokens seen / loop time at the last evaluation,
# evaluations included, both sides measured the same way), the ratio, and
# model FLOPs utilisation against a measured sgemm peak.
#
#   bash bench/train_bench.sh [ember-binary]
# Environment: CONFIG (default configs/verdict.toml), THREADS (default 2),
#   STEPS (optimizer steps, default 31 = the evaluation at step 31; 0 = the
#   whole config)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
config="${CONFIG:-configs/verdict.toml}"
threads="${THREADS:-2}"
steps="${STEPS:-31}"
py=/usr/bin/python3
cd "$root"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT

"$ember" train --config "$config" --set train.threads="$threads" --set train.device=cpu \
  --set train.max_steps="$steps" --set run.dir="$w/ember" >"$w/ember.log"
# The same, without keeping large blocks in the heap (src/cli/train_cmd.cpp).
EMBER_NO_HEAP_TUNING=1 "$ember" train --config "$config" --set train.threads="$threads" \
  --set train.device=cpu --set train.max_steps="$steps" --set run.dir="$w/plain" >"$w/plain.log"
"$py" tests/reference/train_reference.py "$w/ember/config.toml" "$w/ref.jsonl" >"$w/ref.log"

"$py" - "$w/ember/config.toml" "$w/ember/metrics.jsonl" "$w/ref.jsonl" "$threads" "$w/plain/metrics.jsonl" <<'PY'
import json, sys, time, tomllib
import torch
cfg = tomllib.load(open(sys.argv[1], "rb"))
ours = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
ref = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
threads = int(sys.argv[4])
plain = [json.loads(l) for l in open(sys.argv[5]) if l.strip()]
torch.set_num_threads(threads)
D, V = cfg["model"]["emb_dim"], cfg["model"]["vocab_size"]
N = cfg["data"]["batch_size"] * cfg["data"]["max_length"]

def gflops(m, k, n, reps=5):
    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.mm(a, b)
    t = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * m * k * n * reps / (time.perf_counter() - t) / 1e9

# The out_head's shape (forward) and a square one; the better is the peak.
peak = max(gflops(N, D, V), gflops(2048, 2048, 2048))
# Training FLOPs per token: the out_head matmuls, forward 2DV + backward
# 4DV (embedding, LayerNorm, loss and AdamW are not counted: a lower bound;
# evaluation forwards are not counted either).
flop_per_token = 6 * D * V
worst = max(abs(a[k] - b[k]) for a, b in zip(ours, ref) for k in ("train_loss", "val_loss"))
assert len(ours) == len(ref) and all(a["tokens_seen"] == b["tokens_seen"] for a, b in zip(ours, ref))
print(f"config: {sys.argv[1]} (B*T = {N}, D = {D}, V = {V}), {threads} threads, "
      f"{ours[-1]['step']} steps, {len(ours)} evaluations; sgemm peak {peak:.1f} GFLOP/s; "
      f"parity max |diff| {worst:.1e}")
print()
print("| loop | tokens seen | loop time (s) | tokens/s | vs PyTorch | MFU (out_head matmuls) |")
print("|---|---|---|---|---|---|")
for name, rows in (("PyTorch 1.13 reference", ref),
                   ("ember train, EMBER_NO_HEAP_TUNING=1", plain), ("ember train", ours)):
    r = rows[-1]
    tps = r["tokens_seen"] / r["elapsed_s"]
    base = ref[-1]["tokens_seen"] / ref[-1]["elapsed_s"]
    print(f"| {name} | {r['tokens_seen']} | {r['elapsed_s']:.2f} | {tps:.0f} | "
          f"{tps / base:.2f}x | {100 * tps * flop_per_token / (peak * 1e9):.0f}% |")
PY

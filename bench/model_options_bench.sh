#!/usr/bin/env bash
# The model options of issue 25 that change speed, not results
# (model.attention = "fused", model.vocab_pad_to = 64), each against the
# book's default (multihead, no padding) in the same run: `ember train` on
# configs/gpt2-small-verdict.toml (GPT-2 small, batch 2, context 256),
# STEPS steps with an evaluation of one batch every 4, in fp32 and bf16
# (bf16 only on a CPU with AVX512-BF16 or AMX), ROUNDS rounds interleaved
# so that drift hits every row alike. Prints a markdown table: tokens/s of
# each run (metrics.jsonl's last tokens_per_s: the run's trained tokens
# over its loop time, evaluations included), each row's mean against the
# default's, and the last evaluation's losses (equal to the default's
# within rounding, or something is wrong).
#   bash bench/model_options_bench.sh [ember-binary]
# Environment: THREADS (default 2), STEPS (default 8), ROUNDS (default 2),
#   DEVICE (default cpu; cuda on a GPU machine), PRECISIONS (default
#   "fp32 bf16").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
source "$root/bench/lib/machine.sh"
threads="${THREADS:-2}"
print_cpu "$threads"
precisions="${PRECISIONS:-fp32 bf16}"
if [[ "${DEVICE:-cpu}" == cpu ]] && ! grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo; then
  precisions="${precisions//bf16/}"
  echo "(no bf16 rows: this CPU has neither AVX512-BF16 nor AMX)"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
variants=("1 multihead" "64 multihead" "1 fused")
for round in $(seq "${ROUNDS:-2}"); do
  for p in $precisions; do
    for v in "${variants[@]}"; do
      read -r pad att <<<"$v"
      run="$work/$p-$pad-$att-$round"
      (cd "$root" && "$ember" train --config configs/gpt2-small-verdict.toml \
        --set train.threads="$threads" --set train.device="${DEVICE:-cpu}" \
        --set train.max_steps="${STEPS:-8}" --set train.eval_freq=4 --set train.eval_iter=1 \
        --set train.precision="$p" --set model.vocab_pad_to="$pad" \
        --set model.attention="$att" --set run.dir="$run" --set run.checkpoint_every=0 \
        >"$run.log" 2>&1) || { tail -3 "$run.log"; exit 1; }
      echo "round $round: $p vocab_pad_to $pad attention $att done" >&2
    done
  done
done
python3 - "$work" "${ROUNDS:-2}" $precisions <<'PY'
import json, statistics, sys
work, rounds, precisions = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print("| precision | attention | vocab_pad_to | tokens/s (each round) | mean | vs default | train loss | val loss |")
print("|---|---|---:|---|---:|---:|---:|---:|")
for p in precisions:
    base = None
    for pad, att in (("1", "multihead"), ("64", "multihead"), ("1", "fused")):
        recs = [json.loads(open(f"{work}/{p}-{pad}-{att}-{r}/metrics.jsonl").read().splitlines()[-1])
                for r in range(1, rounds + 1)]
        tps = [r["tokens_per_s"] for r in recs]
        mean = statistics.mean(tps)
        base = base or mean
        print(f"| {p} | {att} | {pad} | {', '.join(f'{t:.1f}' for t in tps)} | {mean:.1f} | "
              f"{mean / base:.2f}x | {recs[-1]['train_loss']:.6f} | {recs[-1]['val_loss']:.6f} |")
PY

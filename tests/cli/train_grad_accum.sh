#!/usr/bin/env bash
# Gradient accumulation is exact (issue 16): 4 micro-batches of 2 per
# optimizer step give the run of one batch of 8 (dropout off, shuffle off,
# so both read the same windows in the same order): the same losses at every
# evaluation (1e-5), tokens_seen, lr and gradient norms (relative 1e-5), and
# the same final weights (1e-5). Clipping is on (from step 0, at 0.3: the
# norms here are ~0.4) and the rate warms up, so both enter the comparison.
# lr 4e-4 as in dist_train_equivalence.sh: AdamW divides each update by
# sqrt(v), so the float rounding of two summation orders grows with the rate.
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
common=(--config configs/debug.toml --set model.drop_rate=0.0 --set data.shuffle=false
  --set train.lr=4e-4 --set train.max_steps=12 --set train.eval_freq=2 --set train.eval_iter=2
  --set train.warmup_steps=4 --set train.grad_clip=0.3 --set train.grad_clip_after_warmup=false
  --set run.checkpoint_every=0)
"$ember" train "${common[@]}" --set data.batch_size=8 --set run.dir="$w/one" >"$w/one.log"
# An evaluation averages eval_iter batches: 8 of 2 are the 2 of 8.
"$ember" train "${common[@]}" --set data.batch_size=2 --set train.grad_accum_steps=4 \
  --set train.eval_iter=8 --set run.dir="$w/four" >"$w/four.log"
python3 - "$w/one/metrics.jsonl" "$w/four/metrics.jsonl" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, compare_metrics, compare_rates, read_jsonl
one, four = read_jsonl(sys.argv[1]), read_jsonl(sys.argv[2])
check(len(one) >= 5, f"{len(one)} evaluations, expected at least 5")
worst = compare_metrics(one, four, 1e-5, "batch 8 vs 4 x 2 accumulated")
worst_norm = compare_rates(one, four, 1e-5, "batch 8 vs 4 x 2 accumulated")
check(len(set(x["lr"] for x in one)) >= 3, "the rate did not warm up")
check(any(x["grad_norm"] > 0.3 for x in one), "no evaluated step was clipped")
print(f"{len(one)} evaluations: largest loss difference {worst:.3g}, "
      f"grad_norm ratio within {worst_norm:.3g}")
PY
"$(dirname "$ember")/tests/ember_dist_worker" compare "$w/one/checkpoint.pt" "$w/four/checkpoint.pt" 1e-5
echo "ok: 4 x 2 accumulated = batch 8"

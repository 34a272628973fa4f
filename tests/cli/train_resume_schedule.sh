#!/usr/bin/env bash
# Resume with the appendix-D schedule and gradient accumulation (issue 16).
# Checkpoints are taken only between optimizer steps, never between the
# micro-batches of one, so a stop mid-warmup or mid-accumulation resumes
# exactly:
# 1. warmup by steps (a schedule that does not depend on the run's length),
#    4 micro-batches a step (an epoch is 19, so its last step sums 3),
#    clipping from the first step: stopped at step 3 (mid-warmup, mid-epoch)
#    by max_steps and resumed to the end (two epochs, 10 steps), the metrics
#    (losses, lr, grad_norm, tokens_seen) equal those of an uninterrupted run
#    (1e-6);
# 2. cosine with warmup_ratio: a resume that changes the run's length
#    (and so every rate) is refused, as is one that changes grad_accum_steps;
#    a run stopped by SIGINT mid-warmup resumes to the uninterrupted metrics.
# A quarter of the-verdict trains (19 micro-batches of 4 x 16 an epoch): the
# sanitized suite pays ~0.4 s a micro-batch (the 13 MB logits are fresh
# pages under ASan's allocator).
#   bash train_resume_schedule.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
base=(--config configs/debug.toml --set train.threads=1 --set train.epochs=2
  --set data.train_ratio=0.25 --set train.max_steps=100 --set run.checkpoint_every=0
  --set train.eval_freq=2 --set train.grad_clip=0.5)
warm=("${base[@]}" --set train.grad_accum_steps=4 --set train.warmup_steps=8
  --set train.initial_lr=1e-4 --set train.grad_clip_after_warmup=false)
"$ember" train "${warm[@]}" --set run.dir="$w/a" >"$w/a.log"
"$ember" train "${warm[@]}" --set train.max_steps=3 --set run.dir="$w/b" >/dev/null
"$ember" train --resume "$w/b" --set train.max_steps=100 >"$w/b.log"
grep -q "resuming $w/b at step 3 (epoch 1, batch 12 of 19)" "$w/b.log" ||
  { echo "FAIL: expected a resume at step 3, batch 12 of 19:"; cat "$w/b.log"; exit 1; }

# compare A B: same evaluations (1e-6), lr equal, grad_norm (relative 1e-6).
compare() {
  python3 - "$1" "$2" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, compare_metrics, compare_rates, read_jsonl
a, b = read_jsonl(sys.argv[1]), read_jsonl(sys.argv[2])
worst = compare_metrics(a, b, 1e-6, "uninterrupted vs resumed")
compare_rates(a, b, 1e-6, "uninterrupted vs resumed")
lrs = [x["lr"] for x in a]
check(len(set(lrs)) >= 4, f"the rate should vary, got {lrs}")
print(f"{len(a)} evaluations equal (largest loss difference {worst:.3g}), "
      f"lr {lrs[0]:.3g} .. {lrs[-1]:.3g}, tokens {a[-1]['tokens_seen']}")
PY
}
compare "$w/a/metrics.jsonl" "$w/b/metrics.jsonl"
# Two epochs of 5 steps, evaluated every 2 (steps 1, 3, .., 9).
python3 - "$w/a/metrics.jsonl" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, read_jsonl
rows = read_jsonl(sys.argv[1])
last = rows[-1]
# After 9 of the 10 steps: 19 + 4 x 4 micro-batches.
check(last["step"] == 9 and last["epoch"] == 2 and last["tokens_seen"] == 35 * 64,
      f"last evaluation {last}")
PY

# --- cosine decay over the run ------------------------------------------
cos=("${base[@]}" --set train.lr_schedule=cosine --set train.warmup_ratio=0.5
  --set train.grad_accum_steps=3)  # 7 steps an epoch, 14 in all
"$ember" train "${cos[@]}" --set run.dir="$w/c" >/dev/null
"$ember" train "${cos[@]}" --set train.max_steps=5 --set run.dir="$w/d" >/dev/null
expect_fail() { # message-fragment args...
  local msg="$1" before st
  shift
  before="$(sha256sum "$w/d/checkpoint.pt")"
  set +e
  "$ember" train "$@" >/dev/null 2>"$w/err"
  st=$?
  set -e
  [[ $st == 2 ]] || { echo "FAIL: expected status 2, got $st: $*"; cat "$w/err"; exit 1; }
  grep -qF -- "$msg" "$w/err" || { echo "FAIL: expected '$msg' in:"; cat "$w/err"; exit 1; }
  [[ $(wc -l <"$w/err") == 1 ]] || { echo "FAIL: expected one line:"; cat "$w/err"; exit 1; }
  [[ "$(sha256sum "$w/d/checkpoint.pt")" == "$before" ]] || { echo "FAIL: checkpoint modified"; exit 1; }
}
expect_fail "resume $w/d: the learning-rate schedule (cosine decay) spans the run's optimizer steps, which train.epochs and train.max_steps change (got 14 steps, expected 5 as in the checkpoint)" \
  --resume "$w/d" --set train.max_steps=100
expect_fail "(train.grad_accum_steps differ)" --resume "$w/d" --set train.grad_accum_steps=2

# A stop by SIGINT mid-warmup (7 steps of 14), saving every step, resumed.
interruptible "$ember" train "${cos[@]}" --set run.checkpoint_every=1 --set run.dir="$w/e" >"$w/e.log" 2>&1
pid=$!
while kill -0 "$pid" 2>/dev/null && ! grep -q "^ep 1 (step 000001)" "$w/e.log"; do sleep 0.005; done
kill -INT "$pid" 2>/dev/null || true
set +e
wait "$pid"
st=$?
set -e
step=$(sed -n 's/^interrupted: checkpoint at step \([0-9]*\) .*/\1/p' "$w/e.log")
[[ $st == 130 && -n "$step" ]] || { echo "FAIL: exit $st, no interrupted line"; cat "$w/e.log"; exit 1; }
((step < 7)) || { echo "FAIL: the stop came after the warmup (step $step)"; exit 1; }
"$ember" train --resume "$w/e" >"$w/e2.log"
grep -q "^resuming $w/e at step $step " "$w/e2.log"
compare "$w/c/metrics.jsonl" "$w/e/metrics.jsonl"
echo "ok: resumed at step 3 (warmup by steps) and at step $step (SIGINT, cosine) of 14"

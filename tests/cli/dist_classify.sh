#!/usr/bin/env bash
# Classification (chapter 6) with LoRA (appendix E) keeps ember's promises of
# exact resume and distributed equivalence, with accumulation, warmup (by
# steps: max_steps may stop the run) and clipping on, dropout off, 40 + 40
# spam-corpus subjects:
#  - resume: a run stopped mid-epoch (max_steps) and resumed logs the
#    uninterrupted run's metrics.jsonl (evaluations and per-epoch accuracies)
#    and accuracy.json exactly, and ends with its weights;
#  - 2 ranks (Gloo, loopback) x batch 2 give 1 process x batch 4's losses
#    within 1e-5, the same examples_seen and accuracies, final weights
#    within 1e-5, and only the LoRA parameters are all-reduced (the
#    buckets' MB/step, printed to 0.01 MB, add up to the trainable
#    parameters' float32 bytes: 0.01 MB here, 3.3 MB if the frozen model
#    were reduced too).
# ~20 s. Skips (77) without Gloo or node's spam corpus.
#   bash dist_classify.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/dist.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/expect.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/spam.sh"
spam_csvs dist_classify 40
cat >"$w/cls.toml" <<EOF2
$(spam_data_toml)
max_length = 24
[model]
$(tiny_model_toml 32)
head = "classifier"
[train]
seed = 123
epochs = 3
lr = 4e-4
eval_freq = 3
eval_iter = 2
threads = 1
grad_accum_steps = 2
warmup_steps = 2
initial_lr = 1e-5
grad_clip = 1.0
lora_rank = 4
lora_alpha = 8
[run]
checkpoint_every = 0
EOF2
same_run() { # what, run-a, run-b, tolerance (0: exact)
  "$py" - "$@" <<'PY'
import json, sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, check_close, read_jsonl
what, a, b, tol = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
x, y = read_jsonl(f"{a}/metrics.jsonl"), read_jsonl(f"{b}/metrics.jsonl")
check(len(x) == len(y) and len(x) >= 6, f"{what}: {len(x)} metrics lines vs {len(y)}")
timing = ("elapsed_s", "examples_per_s")
for r, s in zip(x, y):
    check(r.keys() == s.keys(), f"{what}: {r} vs {s}")
    for k in r:
        if k in timing:
            continue
        if k in ("train_loss", "val_loss", "grad_norm") and tol > 0:
            check_close(r[k], s[k], tol, f"{what}: {k} at step {r['step']}")
        else:
            check(r[k] == s[k], f"{what}: {k} at step {r['step']}: {r[k]!r} vs {s[k]!r}")
accuracy = [json.load(open(f"{d}/accuracy.json")) for d in (a, b)]
check(accuracy[0] == accuracy[1], f"{what}: accuracy.json {accuracy[0]} vs {accuracy[1]}")
n_acc = sum("train_accuracy" in r for r in x)
check(n_acc == 3, f"{what}: {n_acc} epoch accuracy lines, expected 3")
print(f"ok: {what}: {len(x)} metrics lines ({n_acc} accuracies) and accuracy.json agree")
PY
}

# --- resume ---------------------------------------------------------------
"$ember" train --config "$w/cls.toml" --set data.batch_size=4 --set run.dir="$w/one" >"$w/one.log" 2>&1 ||
  fail "train: $(tail -3 "$w/one.log")"
"$ember" train --config "$w/cls.toml" --set data.batch_size=4 --set train.max_steps=5 \
  --set run.dir="$w/cut" >/dev/null 2>&1 || fail "train to step 5"
"$ember" train --resume "$w/cut" --set train.max_steps=0 >"$w/resume.log" 2>&1 ||
  fail "resume: $(tail -3 "$w/resume.log")"
grep -q "resuming $w/cut at step 5" "$w/resume.log" || fail "no 'resuming ... at step 5' line"
same_run "resumed at step 5 vs uninterrupted" "$w/one" "$w/cut" 0
"$worker" compare "$w/one/checkpoint.pt" "$w/cut/checkpoint.pt" 0

# --- the frozen blocks' outputs kept (train.trainable "last_block") -------
# The first of the two blocks computes each text once: the resumed run
# recomputes what the uninterrupted one reused, with the same numbers, and a
# cache that keeps nothing (frozen_cache_mb 0) gives them too.
lb=(--config "$w/cls.toml" --set data.batch_size=4 --set train.lora_rank=0)
"$ember" train "${lb[@]}" --set run.dir="$w/lb" >"$w/lb.log" 2>&1 || fail "last_block: $(tail -3 "$w/lb.log")"
grep -qE "^frozen blocks: the first 1 compute each text once" "$w/lb.log" ||
  fail "last_block: no 'frozen blocks: the first 1' line"
grep -qE "^frozen blocks: [0-9]+ texts computed, [1-9][0-9]* reused" "$w/lb.log" ||
  fail "last_block: the frozen block's outputs were never reused: $(grep '^frozen' "$w/lb.log")"
"$ember" train "${lb[@]}" --set train.max_steps=5 --set run.dir="$w/lbcut" >/dev/null 2>&1 ||
  fail "last_block: train to step 5"
"$ember" train --resume "$w/lbcut" --set train.max_steps=0 >"$w/lbres.log" 2>&1 ||
  fail "last_block resume: $(tail -3 "$w/lbres.log")"
same_run "last_block resumed at step 5 vs uninterrupted" "$w/lb" "$w/lbcut" 0
"$worker" compare "$w/lb/checkpoint.pt" "$w/lbcut/checkpoint.pt" 0
"$ember" train "${lb[@]}" --set train.frozen_cache_mb=0 --set run.dir="$w/lb0" >"$w/lb0.log" 2>&1 ||
  fail "last_block, frozen_cache_mb 0: $(tail -3 "$w/lb0.log")"
grep -qE "^frozen blocks: [0-9]+ texts computed, 0 reused; 0 kept" "$w/lb0.log" ||
  fail "frozen_cache_mb 0 kept rows: $(grep '^frozen' "$w/lb0.log")"
same_run "last_block, frozen_cache_mb 0 vs 1024" "$w/lb" "$w/lb0" 0

# --- 2 ranks --------------------------------------------------------------
two_ranks 120 "$w/two" "$ember" train --config "$w/cls.toml" --set data.batch_size=2 \
  --set run.dir="$w/two"
grep -q "distributed: 2 ranks, backend gloo, global batch 4" "$w/two.rank0.log" ||
  fail "no 'distributed: 2 ranks' line"
same_run "1 process vs 2 ranks" "$w/one" "$w/two" 1e-5
"$worker" compare "$w/one/checkpoint.pt" "$w/two/checkpoint.pt" 1e-5
trainable=$(sed -nE 's/^model: [0-9]+ parameters, ([0-9]+) trainable.*/\1/p' "$w/two.rank0.log")
reduced=$(sed -nE 's/^distributed: bucket [0-9]+ .*: ([0-9.]+) MB\/step.*/\1/p' "$w/two.rank0.log" |
  awk '{ s += $1 } END { print s }')
awk -v t="$trainable" -v r="$reduced" 'BEGIN { mb = t * 4 / 1e6; exit !(t > 0 && r > 0.98 * mb && r < 1.02 * mb + 0.01) }' ||
  fail "all-reduced $reduced MB/step, expected the $trainable trainable parameters' $(awk -v t="$trainable" 'BEGIN { print t * 4 / 1e6 }') MB"
echo "ok: 2 ranks all-reduce $reduced MB/step: the $trainable LoRA parameters only"

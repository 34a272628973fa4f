#!/usr/bin/env bash
# Parity for chapter 6 (data.format = "classification", model.head =
# "classifier") and appendix E (train.lora_rank): `ember train --init-from
# W.pth` and tests/reference/train_reference.py (gpt_class_finetune.py's
# SpamDataset, loaders, seed order, frozen model, new head, calc_loss_batch
# on the last token and calc_accuracy_loader; the appendix-E notebook's
# LoRALayer and replace_linear_with_lora) on the same resolved config.toml
# and language-model weights must give the same train and validation loss at
# every evaluation (within 1e-4 absolute), the same examples_seen and lr,
# gradient norms within relative 1e-4, the same accuracies after every epoch
# and after training (train, validation, test: exact, they are counts), and
# the same parameter counts (all, trainable). Data: 40 ham and 40 spam mail
# subjects (tests/reference/spam_csv.js, the book's 70/10/20 split). A small
# random model (seed-77 language-model weights exported as the book's .pth):
#   (a) the book: train.trainable "" = last block, final norm and head,
#       dropout 0, 2 epochs, max_length 0 (the longest training text)
#   (b) trainable "all", dropout 0.1, max_length 12 (texts cut),
#       grad_accum_steps 2
#   (c) LoRA rank 4, alpha 8 on every Linear, the head included
#   (d) LoRA rank 2 on the attention of a language model (data.format
#       "text", the verdict), dropout 0.1
#   (e) LoRA rank 4 on every Linear in instruction fine-tuning (exercise
#       7.5; data.format "instruction", data/instruction-data.json)
# One thread; ~20 s. One line per case. Skips (77) without Debian's
# python3-torch or node's spam corpus (scripts/setup.sh).
#   bash classify_parity.sh <ember> <source-dir>
# suite: plain (~70 s under the sanitizers; the classifier and LoRA training,
# export and classify run there in classify_cli and dist_classify).
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/spam.sh"
need_torch "classify_parity (ember vs the book's chapter-6 and appendix-E code)"
need_tiktoken "classify_parity (ember vs the book's chapter-6 and appendix-E code)"
for f in the-verdict.txt instruction-data.json; do
  [[ -f data/$f ]] || {
    echo "skipped: classify_parity: $src/data/$f missing (run scripts/setup.sh)"
    exit 77
  }
done
spam_csvs classify_parity 40
cat >"$w/lm.toml" <<EOF2
[data]
path = "$src/data/the-verdict.txt"
max_length = 16
batch_size = 2
[model]
$(tiny_model_toml 160)
qkv_bias = true
[train]
seed = 123
epochs = 1
max_steps = 10
lr = 5e-4
eval_freq = 3
eval_iter = 2
device = "cpu"
threads = 1
EOF2
cat >"$w/cls.toml" <<EOF2
$(spam_data_toml)
batch_size = 4
label_names = ["ham", "spam"]
[model]
$(tiny_model_toml 160)
qkv_bias = true
head = "classifier"
[train]
seed = 123
epochs = 2
lr = 5e-4
eval_freq = 5
eval_iter = 2
device = "cpu"
threads = 1
EOF2
"$ember" export --config "$w/lm.toml" --set train.seed=77 --out "$w/w77.pth" --format pth \
  2>"$w/export.log" || { cat "$w/export.log"; exit 1; }
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824

parity_case() { # name, config, then --set arguments
  local name="$1" config="$2" run="$w/$1"
  shift 2
  "$ember" train --config "$config" --init-from "$w/w77.pth" "$@" \
    --set run.dir="$run" >"$w/$name.ember.log" 2>&1 || { cat "$w/$name.ember.log"; exit 1; }
  "$py" tests/reference/train_reference.py "$run/config.toml" "$w/$name.ref.jsonl" \
    --init-from "$w/w77.pth" >"$w/$name.ref.log" || { cat "$w/$name.ref.log"; exit 1; }
  "$py" - "$name" "$run" "$w/$name.ref.jsonl" "$w/$name.ember.log" "$w/$name.ref.log" <<'PY'
import json
import os
import re
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, compare_metrics, compare_rates, read_jsonl
name, run, ref_path, ember_log, ref_log = sys.argv[1:]
ours_all, ref_all = read_jsonl(f"{run}/metrics.jsonl"), read_jsonl(ref_path)
classifier = any("train_accuracy" in r for r in ref_all)
losses = lambda rows: [r for r in rows if "train_loss" in r]
ours, ref = losses(ours_all), losses(ref_all)
check(len(ours) >= 3, f"{name}: {len(ours)} evaluations, expected at least 3")
seen = "examples_seen" if classifier else "tokens_seen"
worst = compare_metrics(ours, ref, 1e-4, f"{name}: ember vs pytorch", ("step", "epoch", seen))
worst_norm = compare_rates(ours, ref, 1e-4, f"{name}: ember vs pytorch")
counts = json.loads(next(l for l in open(ref_log) if l.startswith('{"num_parameters"')))
m = re.search(r"model: (\d+) parameters, (\d+) trainable", open(ember_log).read())
check(m is not None, f"{name}: no 'model: N parameters, M trainable' line in ember's log")
check([int(m.group(1)), int(m.group(2))] ==
      [counts["num_parameters"], counts["num_trainable_parameters"]],
      f"{name}: parameters (all, trainable) {m.groups()} vs {counts}")
if name == "a_book_last_block":  # the first block's outputs kept and reused
    check(re.search(r"^frozen blocks: \d+ texts computed, [1-9]\d* reused", open(ember_log).read(), re.M),
          f"{name}: the frozen block's outputs were never reused")
summary = ""
if classifier:
    acc = lambda rows: [(r["epoch"], r["step"], r["train_accuracy"], r["val_accuracy"])
                        for r in rows if "train_accuracy" in r]
    check(acc(ours_all) == acc(ref_all) and acc(ref_all),
          f"{name}: epoch accuracies {acc(ours_all)} vs {acc(ref_all)}")
    final = json.load(open(f"{run}/accuracy.json"))
    ref_final = next(r for r in ref_all if r.get("final"))
    for k in ("train", "val", "test"):
        check(final[k] == ref_final[k], f"{name}: final {k} accuracy {final[k]} vs {ref_final[k]}")
    summary = f", accuracy train {final['train']:.4f} val {final['val']:.4f} test {final['test']:.4f}"
print(f"parity ok: {name}: {len(ours)} evaluations to step {ours[-1]['step']}, max |diff| "
      f"{worst:.2e}, grad_norm within {worst_norm:.2e}, {m.group(2)} of {m.group(1)} "
      f"parameters trained{summary}")
PY
}

parity_case a_book_last_block "$w/cls.toml"
parity_case b_all_cut_accum "$w/cls.toml" --set train.trainable=all --set model.drop_rate=0.1 \
  --set data.max_length=12 --set train.grad_accum_steps=2
parity_case c_lora_classifier "$w/cls.toml" --set train.lora_rank=4 --set train.lora_alpha=8
parity_case d_lora_text "$w/lm.toml" --set train.lora_rank=2 --set 'train.lora_targets=["attention"]' \
  --set model.drop_rate=0.1
parity_case e_lora_instruction "$w/lm.toml" --set data.format=instruction \
  --set data.path=data/instruction-data.json --set data.max_length=64 --set data.batch_size=4 \
  --set train.lora_rank=4 --set train.lora_alpha=8 --set train.max_steps=7

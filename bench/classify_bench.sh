#!/usr/bin/env bash
# Chapter-6 classification and appendix-E LoRA fine-tuning of GPT-2 small on
# this machine, ember against the book's PyTorch code, same threads, data
# and weights:
#   1. classification (the book's train.trainable "last_block", batch 8,
#      drop_rate 0, qkv_bias): `ember train` vs tests/reference/
#      train_reference.py (gpt_class_finetune.py's SpamDataset, loaders,
#      train_classifier_simple and calc_accuracy_loader, checked by
#      cli.classify_parity) on PER_CLASS ham and spam mail subjects
#      (tests/reference/spam_csv.js, the book's 70/10/20 split), STEPS
#      optimizer steps from the same --init-from weights (a seeded GPT-2
#      small exported as the book's .pth). tokens/s = the input tokens the
#      steps consumed (examples x the padded length, as the book pads) / the
#      loop time of each side's last line (one evaluation after step 1, the
#      accuracies after the cut-short epoch and the final ones included on
#      both sides); peak RSS of each process (/usr/bin/time).
#   2. LoRA against full fine-tuning, ember on both (train.trainable "all"
#      vs train.lora_rank 16 on every Linear): optimizer state (AdamW's two
#      float32 moments per trainable parameter), peak RSS and the loop's
#      time per step.
# Prints the CPU, then a markdown table.
#   bash bench/classify_bench.sh [ember-binary]
# Environment: THREADS (2), STEPS (8), PER_CLASS (60), PRECISION (fp32, or
# bf16 on both sides: train.precision, and the twin's forward under
# torch.autocast), KEEP=DIR keeps the logs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
threads="${THREADS:-2}"
steps="${STEPS:-8}"
per_class="${PER_CLASS:-60}"
py=/usr/bin/python3
cd "$root"
source "$root/bench/lib/machine.sh"
bench_workdir
print_cpu "$threads"

node tests/reference/spam_csv.js "$w" --per-class "$per_class"
sed -e "s|^train_path = .*|train_path = \"$w/train.csv\"|" \
  -e "s|^val_path = .*|val_path = \"$w/validation.csv\"|" \
  -e "s|^test_path = .*|test_path = \"$w/test.csv\"|" configs/gpt2-small-spam.toml >"$w/spam.toml"
sets=(--config "$w/spam.toml" --set train.threads="$threads" --set train.device=cpu
  --set train.max_steps="$steps" --set train.eval_freq=1000 --set train.eval_iter=1
  --set train.precision="${PRECISION:-fp32}")
"$ember" export --config configs/gpt2-small-verdict.toml --set model.qkv_bias=true --set model.context_length=1024 \
  --set train.seed=77 --out "$w/init.pth" 2>/dev/null
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824
timed() { # name, command...
  local name="$1"
  shift
  /usr/bin/time -f "%M %e" -o "$w/$name.time" "$@" >"$w/$name.log" 2>&1 ||
    { tail -5 "$w/$name.log"; exit 1; }
}
timed ember "$ember" train "${sets[@]}" --init-from "$w/init.pth" --set run.dir="$w/run"
timed ref "$py" tests/reference/train_reference.py "$w/run/config.toml" "$w/ref.jsonl" \
  --init-from "$w/init.pth"
timed full "$ember" train "${sets[@]}" --init-from "$w/init.pth" --set train.trainable=all \
  --set run.dir="$w/full"
timed lora "$ember" train "${sets[@]}" --init-from "$w/init.pth" --set train.lora_rank=16 \
  --set run.dir="$w/lora"

"$py" - "$w" <<'PY'
import json, os, re, sys
w = sys.argv[1]
def rss(name):
    return int(open(f"{w}/{name}.time").read().split()[-2]) / 1024
# "done: 8 steps, 64 examples seen; 60.7 s, ..." and
# "reference: 8 steps, 64 examples, 111.10 s, ..."
def loop(name):
    text = open(f"{w}/{name}.log").read()
    m = re.findall(r"^done: (\d+) steps, (\d+) examples seen; ([0-9.]+) s", text, re.M) or \
        re.findall(r"^reference: (\d+) steps, (\d+) examples, ([0-9.]+) s", text, re.M)
    steps, examples, seconds = m[-1]
    return int(steps), int(examples), float(seconds)
def length(name):
    m = re.search(r"each (\d+) tokens", open(f"{w}/{name}.log").read())
    return int(m.group(1))
def trainable(name):
    m = re.search(r"model: (\d+) parameters, (\d+) trainable", open(f"{w}/{name}.log").read())
    return int(m.group(1)), int(m.group(2))
es, ee, et = loop("ember")
rs, re_, rt = loop("ref")
if (es, ee) != (rs, re_):
    sys.exit(f"FAIL: ember ran {es} steps of {ee} examples, the reference {rs} of {re_}")
n = length("ember")
ours = [json.loads(l) for l in open(f"{w}/run/metrics.jsonl") if "train_loss" in l]
ref = [json.loads(l) for l in open(f"{w}/ref.jsonl") if "train_loss" in l]
diff = max(abs(a[k] - b[k]) for a, b in zip(ours, ref) for k in ("train_loss", "val_loss"))
accuracy = json.load(open(f"{w}/run/accuracy.json"))
ref_final = [json.loads(l) for l in open(f"{w}/ref.jsonl") if '"final"' in l][-1]
if any(accuracy[k] != ref_final[k] for k in ("train", "val", "test")):
    # bf16: both sides round their products, not in the same places (the
    # book's GELU and LayerNorm are elementwise ops): report, do not fail.
    if os.environ.get("PRECISION", "fp32") == "fp32":
        sys.exit(f"FAIL: accuracies {accuracy} vs the reference's {ref_final}")
    print(f"bf16: accuracies {accuracy} vs the reference's {ref_final}")
tok = ee * n
print()
print(f"precision: {os.environ.get('PRECISION', 'fp32')} on both sides")
print("| | ember | PyTorch (the book's code) | ratio |")
print("|---|---|---|---|")
print(f"| classification, GPT-2 small, last_block, batch 8 ({es} steps, {tok} tokens of {n}): tokens/s "
      f"| {tok / et:.1f} | {tok / rt:.1f} | {rt / et:.2f}x |")
print(f"| classification: peak RSS | {rss('ember'):.0f} MB | {rss('ref'):.0f} MB | {rss('ember') / rss('ref'):.2f} |")
print()
(ft, fn), (lt, ln) = trainable("full"), trainable("lora")
fs, _, fsec = loop("full")
ls, _, lsec = loop("lora")
print("| ember, GPT-2 small classifier | full (trainable all) | LoRA rank 16 | LoRA / full |")
print("|---|---|---|---|")
print(f"| trainable parameters | {fn:,} | {ln:,} of {lt:,} | {ln / fn:.4f} |")
print(f"| AdamW state (2 x 4 bytes a trainable parameter) | {8 * fn / 2**20:.1f} MB | {8 * ln / 2**20:.1f} MB | {ln / fn:.4f} |")
print(f"| peak RSS | {rss('full'):.0f} MB | {rss('lora'):.0f} MB | {rss('lora') / rss('full'):.2f} |")
print(f"| loop time per step ({fs} steps) | {fsec / fs:.2f} s | {lsec / ls:.2f} s | {(lsec / ls) / (fsec / fs):.2f} |")
print()
print(f"classification losses at the evaluation: max |diff| {diff:.2e}; "
      f"final accuracies equal ({accuracy['train']:.4f}, {accuracy['val']:.4f}, {accuracy['test']:.4f})")
PY

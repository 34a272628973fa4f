#!/usr/bin/env bash
# The chapter-6 and appendix-E commands end to end on a tiny model and 40 + 40
# spam-corpus subjects (tests/reference/spam_csv.js):
#  - `ember classify --run R --text T` prints "<class> <name>"; `--input
#    test.csv` prints one JSON line a text, with the expected label, and an
#    accuracy on stderr equal to the run's accuracy.json test figure;
#  - a fresh LoRA (B = 0) leaves the logits bit for bit as they were;
#  - `ember export` of a LoRA run merges the adapters: the .pth loads
#    strictly into the book's GPTModel with its classifier head (PyTorch) and
#    gives the run's logits within 1e-5; `--lora-only` writes only
#    .lora.A/.lora.B keys, and the base plus that adapter (`--weights` twice)
#    gives the run's logits exactly, and loads into the twin's LoRA model
#    (appendix E's LinearWithLoRA) with the run's logits within 1e-5;
#    `train --init-from` twice (base, adapter) starts from the run's model;
#  - bad input: one line, exit 2, naming the key, file and line.
# ~10 s. Skips (77) without Debian's python3-torch or node's spam corpus.
#   bash classify_cli.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/expect.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/spam.sh"
need_torch "classify_cli (merged export in the book's GPTModel)"
spam_csvs classify_cli 40
model="$(tiny_model_toml 160)
qkv_bias = true"
cat >"$w/lm.toml" <<EOF2
[data]
path = "$src/configs/verdict.toml"
max_length = 16
[model]
$model
[train]
seed = 77
threads = 1
EOF2
cat >"$w/cls.toml" <<EOF2
$(spam_data_toml)
batch_size = 4
label_names = ["ham", "spam"]
[model]
$model
head = "classifier"
[train]
seed = 123
epochs = 2
lr = 5e-4
eval_freq = 5
eval_iter = 2
threads = 1
EOF2
"$ember" export --config "$w/lm.toml" --out "$w/base.pth" --format pth 2>"$w/log" ||
  fail "export of the base: $(cat "$w/log")"
train() { # run-dir, --set arguments...
  local run="$1"
  shift
  "$ember" train --config "$w/cls.toml" --init-from "$w/base.pth" --set run.dir="$run" "$@" \
    >"$w/train.log" 2>&1 || fail "train $run: $(tail -3 "$w/train.log")"
}
train "$w/book"
train "$w/lora" --set train.lora_rank=4 --set train.lora_alpha=8

# --- classify ---------------------------------------------------------------
out=$("$ember" classify --run "$w/book" --text "You are a winner! Claim your prize now" 2>"$w/err") ||
  fail "classify --text: $(cat "$w/err")"
[[ "$out" =~ ^[01]\ (ham|spam)$ ]] || fail "classify --text printed '$out', expected '<0|1> <ham|spam>'"
echo "ok: classify --text: $out"
"$ember" classify --run "$w/book" --input "$w/test.csv" >"$w/labels.jsonl" 2>"$w/err" ||
  fail "classify --input: $(cat "$w/err")"
"$py" - "$w/labels.jsonl" "$w/err" "$w/book/accuracy.json" "$w/test.csv" <<'PY'
import csv, json, re, sys
sys.path.insert(0, "tests/cli/lib")
from checks import check
rows = [json.loads(l) for l in open(sys.argv[1])]
texts = list(csv.DictReader(open(sys.argv[4], newline="")))
check(len(rows) == len(texts), f"classify --input: {len(rows)} lines for {len(texts)} texts")
for r, t in zip(rows, texts):
    check(r["text"] == t["Text"] and r["expected"] == int(t["Label"]),
          f"classify --input: line {r['line']}: {r} vs the CSV row {t}")
    check(r["name"] == ["ham", "spam"][r["label"]], f"classify --input: name of {r}")
right = sum(r["label"] == r["expected"] for r in rows) / len(rows)
test = json.load(open(sys.argv[3]))["test"]
check(abs(right - test) < 1e-12, f"classify --input: accuracy {right} vs the run's test accuracy {test}")
m = re.search(r"accuracy ([0-9.]+)%", open(sys.argv[2]).read())
check(m is not None and abs(float(m.group(1)) - 100 * test) < 0.01,
      f"classify --input: stderr {open(sys.argv[2]).read()!r}, expected accuracy {100 * test:.2f}%")
print(f"ok: classify --input: {len(rows)} texts, accuracy {right:.4f} = accuracy.json's test")
PY

# --- a fresh LoRA changes nothing -------------------------------------------
ids=(--ids "40 3290 318 257 1049" --ids "3666 284 262 995 13")
"$ember" forward --config "$w/lm.toml" --weights "$w/base.pth" "${ids[@]}" >"$w/plain.json"
"$ember" forward --config "$w/lm.toml" --weights "$w/base.pth" --set train.lora_rank=4 "${ids[@]}" \
  >"$w/fresh_lora.json"
cmp -s <(sed 's/"num_[a-z_]*parameters": [0-9]*, //g' "$w/plain.json") \
  <(sed 's/"num_[a-z_]*parameters": [0-9]*, //g' "$w/fresh_lora.json") ||
  fail "a fresh LoRA (B = 0) changed the logits"
echo "ok: a fresh LoRA leaves the logits bit for bit"

# --- export: merged, and the adapter alone ----------------------------------
"$ember" forward --run "$w/lora" "${ids[@]}" >"$w/run.json"
"$ember" export --run "$w/lora" --out "$w/merged.pth" --format pth 2>"$w/log" ||
  fail "export (merged): $(cat "$w/log")"
"$py" - "$w/merged.pth" "$w/run.json" "$w/lora/config.toml" <<'PY'
import json, sys, tomllib
import torch
sys.path.insert(0, "tests/reference"); sys.path.insert(0, "tests/cli/lib")
from checks import check
from gpt_book import build_model
import book_finetune
cfg = tomllib.load(open(sys.argv[3], "rb"))
model = build_model(cfg["model"])
book_finetune.add_classifier_head(model, cfg["model"])
state = torch.load(sys.argv[1], map_location="cpu")
check(not any(".lora." in k for k in state), "merged export still has .lora. keys")
model.load_state_dict(state, strict=True)
model.eval()
run = json.load(open(sys.argv[2]))
ids = torch.tensor([[40, 3290, 318, 257, 1049], [3666, 284, 262, 995, 13]])
with torch.no_grad():
    logits = model(ids)
d = (logits - torch.tensor(run["logits"])).abs().max().item()
check(d <= 1e-5, f"merged export in the book's GPTModel: logits differ by {d:.3g} from the run's")
print(f"ok: merged export loads strictly into the book's GPTModel, logits within {d:.2e}")
PY
# The adapter alone over its base: a language model (the classifier's head is
# new, so its base is the run's own).
"$ember" train --config "$w/lm.toml" --init-from "$w/base.pth" --set data.path=data/the-verdict.txt \
  --set train.lora_rank=2 --set train.max_steps=4 --set run.dir="$w/lm_lora" >"$w/log" 2>&1 ||
  fail "train lm_lora: $(tail -3 "$w/log")"
"$ember" export --run "$w/lm_lora" --lora-only --out "$w/adapter.pth" --format pth 2>"$w/log" ||
  fail "export --lora-only: $(cat "$w/log")"
"$py" -c "
import sys, torch
keys = list(torch.load(sys.argv[1]))
assert keys and all('.lora.A' in k or '.lora.B' in k for k in keys), keys
print(f'ok: --lora-only writes {len(keys)} adapter tensors, nothing else')" "$w/adapter.pth" ||
  fail "--lora-only wrote other keys"
"$ember" forward --run "$w/lm_lora" "${ids[@]}" | sed 's/"num_[a-z_]*parameters": [0-9]*, //g' >"$w/a.json"
"$ember" forward --config "$w/lm_lora/config.toml" --weights "$w/base.pth" --weights "$w/adapter.pth" \
  "${ids[@]}" | sed 's/"num_[a-z_]*parameters": [0-9]*, //g' >"$w/b.json"
cmp -s "$w/a.json" "$w/b.json" || fail "base + --lora-only adapter: logits differ from the run's"
echo "ok: base + adapter (--weights twice) gives the run's logits exactly"
# --init-from twice: a new run starts from the base and the adapter. With lr
# 1e-30 its steps leave the weights as they were (below float32's spacing),
# so its model is the lm_lora run's; without the adapter it is the base's.
init_pair() { # run-dir, adapter-file...
  local run="$1"
  shift
  "$ember" train --config "$w/lm_lora/config.toml" --init-from "$w/base.pth" "$@" \
    --set train.lr=1e-30 --set train.max_steps=1 --set run.dir="$run" >"$w/log" 2>&1 ||
    fail "train --init-from $*: $(tail -3 "$w/log")"
  "$ember" forward --run "$run" "${ids[@]}" | sed 's/"num_[a-z_]*parameters": [0-9]*, //g'
}
init_pair "$w/pair" --init-from "$w/adapter.pth" >"$w/c.json"
grep -q "init: adapters from $w/adapter.pth" "$w/log" || fail "train --init-from twice: no 'init: adapters' line"
init_pair "$w/single" >"$w/d.json"
"$py" - "$w/a.json" "$w/c.json" "$w/d.json" <<'PY'
import json, sys
sys.path.insert(0, "tests/cli/lib")
from checks import check
a, c, d = (json.load(open(f))["logits"] for f in sys.argv[1:])
def diff(x, y):
    if isinstance(x, list):
        return max(diff(u, v) for u, v in zip(x, y))
    return abs(x - y)
check(diff(a, c) <= 1e-6, f"train --init-from base --init-from adapter: logits {diff(a, c):.3g} from the run's")
check(diff(a, d) > 1e-4, f"without the adapter the logits should differ from the run's (by {diff(a, d):.3g})")
print(f"ok: train --init-from base --init-from adapter starts from the run's model "
      f"(logits within {diff(a, c):.1e}; {diff(a, d):.1e} without the adapter)")
PY
"$py" - "$w/base.pth" "$w/adapter.pth" "$w/a.json" "$w/lm_lora/config.toml" <<'PY'
import json, sys, tomllib
import torch
sys.path.insert(0, "tests/reference"); sys.path.insert(0, "tests/cli/lib")
from checks import check
from gpt_book import build_model
import book_finetune
cfg = tomllib.load(open(sys.argv[4], "rb"))
model = build_model(cfg["model"])
model.load_state_dict(torch.load(sys.argv[1], map_location="cpu"), strict=True)
book_finetune.add_lora(model, cfg["train"])
result = model.load_state_dict(torch.load(sys.argv[2], map_location="cpu"), strict=False)
check(not result.unexpected_keys, f"adapter keys the twin lacks: {result.unexpected_keys}")
lora_missing = [k for k in result.missing_keys if ".lora." in k]
check(not lora_missing, f"adapter file misses the twin's {lora_missing}")
model.eval()
ids = torch.tensor([[40, 3290, 318, 257, 1049], [3666, 284, 262, 995, 13]])
with torch.no_grad():
    logits = model(ids)
d = (logits - torch.tensor(json.load(open(sys.argv[3]))["logits"])).abs().max().item()
check(d <= 1e-5, f"adapter in the twin's LoRA model: logits differ by {d:.3g} from the run's")
print(f"ok: the adapter file loads into the twin's LoRA model (appendix E), logits within {d:.2e}")
PY

# --- bad input ----------------------------------------------------------------
c=(train --config "$w/cls.toml" --set run.dir="$w/bad")
expect_error "model.num_classes" "${c[@]}" --set model.num_classes=1
expect_error "model.num_classes" "${c[@]}" --set model.num_classes=65537
expect_error "train.lora_rank" "${c[@]}" --set train.lora_rank=-1
expect_error "train.lora_rank" "${c[@]}" --set train.lora_rank=17
expect_error "train.lora_alpha" "${c[@]}" --set train.lora_rank=2 --set train.lora_alpha=0
expect_error "train.lora_targets" "${c[@]}" --set train.lora_rank=2 --set 'train.lora_targets=["W_qery"]'
expect_error "data.label_names" "${c[@]}" --set 'data.label_names=["a","b","c"]'
expect_error "model.head" "${c[@]}" --set model.head=lm
expect_error "model.tie_weights" "${c[@]}" --set model.tie_weights=true
expect_error "model.head" train --config "$w/lm.toml" --set model.head=classifier --set run.dir="$w/bad"
expect_error "classifier" classify --run "$w/lm_lora" --text "hi"
expect_error "config has none" train --config "$w/lm.toml" --init-from "$w/base.pth" \
  --init-from "$w/adapter.pth" --set run.dir="$w/bad"
expect_error "given 3 times" train --config "$w/lm_lora/config.toml" --init-from "$w/base.pth" \
  --init-from "$w/adapter.pth" --init-from "$w/adapter.pth" --set run.dir="$w/bad"
printf 'Label,Text\n0,fine\n1,"two, fields",extra\n' >"$w/bad.csv"
expect_error "bad.csv:3" "${c[@]}" --set data.train_path="$w/bad.csv"
printf 'Label,Text\n0,fine\n2,out of range\n' >"$w/bad.csv"
expect_error "bad.csv:3" "${c[@]}" --set data.train_path="$w/bad.csv"
printf 'Label,Body\n0,fine\n' >"$w/bad.csv"
expect_error "Text" "${c[@]}" --set data.train_path="$w/bad.csv"
[[ ! -e "$w/bad" ]] || fail "a failed start left a run folder behind"

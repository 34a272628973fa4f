#!/usr/bin/env bash
# Issue 25's model options that change speed, not results, end to end:
#   1. model.vocab_pad_to = 64 (50,257 -> 50,304 head rows): every
#      evaluation's losses within 1e-5 of the unpadded run; the exported
#      .pth has the same keys and shapes (out_head.weight (V, D)); forward
#      prints V logits per position; a run stopped at step 10 and resumed
#      equals the straight padded run exactly; generation runs.
#   2. model.attention = "fused": the first line names it, `ember --version`
#      names its kernel; losses within 1e-5 of the book's attention
#      (dropout 0; a fused kernel's dropout masks are its own).
#   3. bad input: vocab_pad_to 0, and with a classifier head.
# suite: plain
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/expect.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
need_torch train_speed_options
small=(--config configs/debug.toml --set model.emb_dim=32 --set model.context_length=32
  --set data.max_length=32 --set data.stride=32 --set train.threads=2 --set train.max_steps=20
  --set train.eval_freq=2 --set run.checkpoint_every=0 --set model.drop_rate=0)

expect_error "model.vocab_pad_to out of range (got 0, expected 1 to 65536" train "${small[@]}" --set model.vocab_pad_to=0 \
  --set run.dir="$w/bad"
expect_error 'model.vocab_pad_to = 64 pads the language-model head (got model.head = "classifier")' \
  train --config configs/debug.toml --set data.format=classification --set data.path=x.csv \
  --set model.head=classifier --set model.vocab_pad_to=64 --set run.dir="$w/bad"
"$ember" --version | grep -q "fused (" || { echo "FAIL: --version: $("$ember" --version)"; exit 1; }

"$ember" train "${small[@]}" --set run.dir="$w/book" >"$w/book.log"
"$ember" train "${small[@]}" --set model.vocab_pad_to=64 --set run.dir="$w/pad" >"$w/pad.log"
"$ember" train "${small[@]}" --set model.attention=fused --set run.dir="$w/fused" >"$w/fused.log"
head -1 "$w/fused.log" | grep -q "attention fused" || { echo "FAIL: first line: $(head -1 "$w/fused.log")"; exit 1; }
python3 tests/cli/compare_metrics.py "$w/book/metrics.jsonl" "$w/pad/metrics.jsonl" 1e-5
python3 tests/cli/compare_metrics.py "$w/book/metrics.jsonl" "$w/fused/metrics.jsonl" 1e-5

"$ember" train "${small[@]}" --set model.vocab_pad_to=64 --set train.max_steps=10 \
  --set run.dir="$w/half" >/dev/null
"$ember" train "${small[@]}" --set model.vocab_pad_to=64 --resume "$w/half" >/dev/null
python3 tests/cli/compare_metrics.py "$w/pad/metrics.jsonl" "$w/half/metrics.jsonl" 0

"$ember" export --run "$w/book" --out "$w/book.pth" >/dev/null
"$ember" export --run "$w/pad" --out "$w/pad.pth" >/dev/null
"$py" - "$w" <<'PY'
import sys
import torch
sys.path.insert(0, "tests/cli/lib")
from checks import check
w = sys.argv[1]
a, b = torch.load(f"{w}/book.pth"), torch.load(f"{w}/pad.pth")
check(list(a) == list(b), f"keys differ: {sorted(set(a) ^ set(b))}")
for k in a:
    check(a[k].shape == b[k].shape, f"{k}: {tuple(b[k].shape)}, unpadded {tuple(a[k].shape)}")
check(tuple(b["out_head.weight"].shape) == (50257, 32), f"out_head {tuple(b['out_head.weight'].shape)}")
print("export: the padded run's .pth has the unpadded keys and shapes")
PY
"$ember" forward --run "$w/pad" --ids "1 2 3" >"$w/fwd.json"
python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))["shape"]
sys.exit(0 if s == [1, 3, 50257] else f"FAIL: forward: shape {s}")' "$w/fwd.json"
"$ember" generate --run "$w/pad" --prompt "Every effort" --max-new-tokens 5 --format json >"$w/gen.json"
python3 -c 'import json, sys; n = len(json.load(open(sys.argv[1]))["ids"])
sys.exit(0 if n == 7 else f"FAIL: generate: {n} ids, expected 2 + 5")' "$w/gen.json"
echo "ok: vocab_pad_to and the fused attention change no result"

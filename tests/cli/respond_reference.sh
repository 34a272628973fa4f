#!/usr/bin/env bash
# `ember respond` against the book's section 7.7 (tests/reference/
# respond_reference.py): a small instruction-tuned run answers the first
# test entries; the file ember writes must equal, byte for byte, the
# instruction-data-with-response.json the book's loop writes from the same
# weights (greedy ids, tiktoken's decoding with U+FFFD, the extraction,
# json.dump indent=4). Then respond's errors.
#   bash respond_reference.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source tests/cli/lib/expect.sh
source tests/cli/lib/needs.sh
need_torch "respond_reference (ember respond vs the book's loop)"
need_tiktoken "respond_reference (ember respond vs the book's loop)"
[[ -f data/instruction-data.json ]] ||
  { echo "skipped: respond_reference: data/instruction-data.json missing (run scripts/setup.sh)"; exit 77; }
small=(--config configs/gpt2-small-instruct.toml --set model.preset= --set model.emb_dim=32
  --set model.n_layers=2 --set model.n_heads=4 --set model.context_length=256
  --set data.max_length=128 --set train.threads=2 --set train.sample_prompt=)
"$ember" train "${small[@]}" --set train.max_steps=3 --set train.lr=2e-3 \
  --set run.dir="$w/run" >/dev/null
"$ember" respond --run "$w/run" --limit 6 --max-new-tokens 40 2>"$w/respond.log"
grep -q "respond: wrote $w/run/instruction-data-with-response.json (6 test entries, from entry 935" \
  "$w/respond.log" || fail "respond's summary line: $(cat "$w/respond.log")"
(cd tests/reference && "$py" respond_reference.py "$w/run" "$w/book.json" --limit 6 --max-new-tokens 40)
cmp "$w/run/instruction-data-with-response.json" "$w/book.json" ||
  fail "ember respond differs from the book's loop: $(diff <(head -c 2000 "$w/run/instruction-data-with-response.json") <(head -c 2000 "$w/book.json") | head -20)"
"$py" - "$w/book.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d) == 6 and all("model_response" in e for e in d)
print(f"ok: 6 responses identical to the book's loop (first: {d[0]['model_response'][:40]!r})")
PY
# The fine-tuned model exported as the book's .pth loads into the book's
# GPTModel with load_state_dict(strict=True) and gives ember's logits.
"$ember" export --run "$w/run" --out "$w/w.pth" 2>/dev/null
"$ember" forward --run "$w/run" --ids "21106 318 281 12064 13" >"$w/forward.json"
(cd tests/reference && "$py" - "$w/run/config.toml" "$w/w.pth" "$w/forward.json") <<'PY'
import json, sys, tomllib
import torch
from gpt_book import build_model
cfg = tomllib.load(open(sys.argv[1], "rb"))
model = build_model(cfg["model"])
model.load_state_dict(torch.load(sys.argv[2]), strict=True)
model.eval()
with torch.no_grad():
    logits = model(torch.tensor([[21106, 318, 281, 12064, 13]]))
ours = torch.tensor(json.load(open(sys.argv[3]))["logits"])
diff = (logits - ours).abs().max().item()
assert diff < 1e-4, f"exported weights: logits differ by {diff}"
print(f"ok: the export loads with strict=True into the book's GPTModel (logits max |diff| {diff:.1e})")
PY
# --config with --weights: the same model from its exported weights.
"$ember" respond "${small[@]}" --weights "$w/w.pth" --limit 2 --max-new-tokens 40 \
  --out "$w/from_weights.json" 2>/dev/null
"$py" - "$w/from_weights.json" "$w/book.json" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a == b[:2], "respond --config --weights differs from --run"
print("ok: --config --weights gives the run's responses")
PY

expect_error 'respond: the model'"'"'s config has data.format = "text"' \
  respond --config configs/debug.toml
expect_error "respond: the test split of" \
  respond "${small[@]}" --set data.test_ratio=0
echo "ok: ember respond"

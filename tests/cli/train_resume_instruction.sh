#!/usr/bin/env bash
# Exact resume on the book's chapter-7 batches: a run stopped at step 5
# (mid-epoch, shuffled, dropout on) and resumed to step 12 logs the
# evaluations of the uninterrupted run, bit for bit, and ends with the same
# weights.
# suite: plain (~115 s under the sanitizers; resume runs there in train_resume).
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
[[ -f data/instruction-data.json ]] ||
  { echo "skipped: train_resume_instruction: data/instruction-data.json missing (run scripts/setup.sh)"; exit 77; }
common=(--config configs/gpt2-small-instruct.toml --set model.preset= --set model.emb_dim=32
  --set model.n_layers=2 --set model.n_heads=4 --set model.context_length=128
  --set model.drop_rate=0.1 --set data.max_length=96 --set data.batch_size=4
  --set train.threads=2 --set train.sample_prompt= --set train.eval_freq=2 --set train.lr=1e-3)
"$ember" train "${common[@]}" --set train.max_steps=12 --set run.dir="$w/whole" >/dev/null
"$ember" train "${common[@]}" --set train.max_steps=5 --set run.dir="$w/parts" >/dev/null
"$ember" train --resume "$w/parts" --set train.max_steps=12 >"$w/resumed.log"
grep -q "resuming $w/parts at step 5" "$w/resumed.log" ||
  { echo "FAIL: no 'resuming ... at step 5' line"; cat "$w/resumed.log"; exit 1; }
python3 - "$w/whole/metrics.jsonl" "$w/parts/metrics.jsonl" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, compare_metrics, read_jsonl
whole, parts = read_jsonl(sys.argv[1]), read_jsonl(sys.argv[2])
check(len(whole) == 6, f"{len(whole)} evaluations, expected 6")
worst = compare_metrics(whole, parts, 0.0, "instructions: whole vs resumed",
                        exact=("step", "tokens_seen"))
print(f"instructions: resumed run equals the whole one ({len(whole)} evaluations, max |diff| {worst:.1e})")
PY
"$ember" export --run "$w/whole" --out "$w/whole.pth" 2>/dev/null
"$ember" export --run "$w/parts" --out "$w/parts.pth" 2>/dev/null
cmp "$w/whole.pth" "$w/parts.pth" ||
  { echo "FAIL: final weights differ"; exit 1; }
echo "ok: exact resume on instruction batches"

#!/usr/bin/env bash
# Data parallelism is exact for the book's chapter-7 batches too: 2 ranks
# with batch b give the losses and weights of 1 process with batch 2b
# (within 1e-5). Each global batch is padded to its longest entry before
# the ranks split it, and each rank's loss counts by its share of the
# targets that are not -100 (rows differ: padding, and with mask_prompt the
# prompt), not by its share of rows.
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/dist.sh"
[[ -f data/instruction-data.json ]] ||
  { echo "skipped: dist_instruction_equivalence: data/instruction-data.json missing (run scripts/setup.sh)"; exit 77; }
# lr 1e-4: AdamW divides each update by sqrt(v), so weights whose gradients
# are at rounding level move by up to lr on the last-bit differences of the
# two summation orders (1.4e-5 at lr 4e-4 after 8 steps, 4.7e-6 at 1e-4).
common=(--config configs/gpt2-small-instruct.toml --set model.preset= --set model.emb_dim=32
  --set model.n_layers=2 --set model.n_heads=4 --set model.context_length=128
  --set data.max_length=96 --set data.mask_prompt=true --set train.threads=1
  --set train.sample_prompt= --set train.max_steps=8 --set train.eval_freq=3
  --set train.lr=1e-4 --set train.grad_accum_steps=2)
"$ember" train "${common[@]}" --set data.batch_size=4 --set run.dir="$w/one" >"$w/one.log"
two_ranks 120 "$w/two" "$ember" train "${common[@]}" --set data.batch_size=2 \
  --set run.dir="$w/two"
grep -q "distributed: 2 ranks, backend gloo, global batch 4" "$w/two.rank0.log"
python3 - "$w/one/metrics.jsonl" "$w/two/metrics.jsonl" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, compare_metrics, read_jsonl
one, two = read_jsonl(sys.argv[1]), read_jsonl(sys.argv[2])
check(len(one) >= 3, f"{len(one)} evaluations, expected at least 3")
worst = compare_metrics(one, two, 1e-5, "instructions: 1 process vs 2 ranks",
                        exact=("step", "tokens_seen"))
print(f"instructions: {len(one)} evaluations, largest loss difference {worst:.3g}")
PY
"$worker" compare "$w/one/checkpoint.pt" "$w/two/checkpoint.pt" 1e-5
echo "ok: 2 ranks equal 1 process on instruction batches"

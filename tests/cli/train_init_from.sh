#!/usr/bin/env bash
# `ember train --init-from FILE` starts from the file's weights: with
# dropout and shuffling off (the seed then only draws the initial weights),
# a run of seed 123 started from the weights of a seed-77 model (exported
# as the book's .pth and as safetensors) equals the plain seed-77 run,
# evaluation for evaluation.
#   bash train_init_from.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
common=(--config configs/debug.toml --set model.drop_rate=0 --set data.shuffle=false
  --set train.max_steps=10)
"$ember" train "${common[@]}" --set train.seed=77 --set run.dir="$w/plain" >/dev/null
for format in pth safetensors; do
  "$ember" export --config configs/debug.toml --set train.seed=77 --out "$w/w77.$format" \
    --format "$format" 2>/dev/null
  "$ember" train "${common[@]}" --set train.seed=123 --init-from "$w/w77.$format" \
    --set run.dir="$w/init_$format" >"$w/init_$format.log"
  grep -q "init: weights from $w/w77.$format" "$w/init_$format.log" ||
    { echo "FAIL: no 'init: weights from' line"; exit 1; }
  python3 - "$w/plain/metrics.jsonl" "$w/init_$format/metrics.jsonl" "$format" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import compare_metrics, read_jsonl
worst = compare_metrics(read_jsonl(sys.argv[1]), read_jsonl(sys.argv[2]), 0.0, sys.argv[3])
print(f"same: --init-from {sys.argv[3]} equals the run the weights came from (max |diff| {worst:.1e})")
PY
done
# Without --init-from the seed-123 run differs (the check above can fail).
"$ember" train "${common[@]}" --set train.seed=123 --set run.dir="$w/other" >/dev/null
python3 - "$w/plain/metrics.jsonl" "$w/other/metrics.jsonl" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, read_jsonl
a, b = read_jsonl(sys.argv[1]), read_jsonl(sys.argv[2])
check(any(x["train_loss"] != y["train_loss"] for x, y in zip(a, b)),
      "seeds 77 and 123 gave the same losses; the test cannot tell weights apart")
PY
echo "ok: --init-from loads the weights training starts from"

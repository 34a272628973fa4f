#!/usr/bin/env bash
# Data parallelism is exact: `ember train` on 2 ranks (Gloo, loopback, CPU,
# dropout off) with batch b gives the losses of 1 process with batch 2b at
# every evaluation (within 1e-5), the same tokens_seen, and the same final
# weights (within 1e-5). Shuffle stays on: every rank draws the same order
# and takes its half of each global batch.
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/dist.sh"
common=(--config configs/debug.toml --set model.drop_rate=0.0 --set train.max_steps=24
        --set train.eval_freq=4 --set run.checkpoint_every=0)

"$ember" train "${common[@]}" --set data.batch_size=4 --set run.dir="$w/one" >"$w/one.log"

two_ranks 120 "$w/two" "$ember" train "${common[@]}" --set data.batch_size=2 \
  --set run.dir="$w/two"
grep -q "distributed: 2 ranks, backend gloo, global batch 4" "$w/two.rank0.log"
grep "all-reduce wait" "$w/two.rank0.log"
# Only rank 0 prints (the resolved config, progress, the summary).
grep -q "resolved config" "$w/two.rank0.log"
if [[ -s "$w/two.rank1.log" ]]; then
  echo "FAIL: rank 1 printed:"
  head -5 "$w/two.rank1.log"
  exit 1
fi

python3 - "$w/one/metrics.jsonl" "$w/two/metrics.jsonl" <<'PY'
import json, sys
one = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
two = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert len(one) == len(two) >= 5, (len(one), len(two))
worst = 0.0
for a, b in zip(one, two):
    assert a["step"] == b["step"] and a["tokens_seen"] == b["tokens_seen"], (a, b)
    for k in ("train_loss", "val_loss"):
        worst = max(worst, abs(a[k] - b[k]))
print(f"{len(one)} evaluations, largest loss difference {worst:.3g}")
assert worst <= 1e-5, worst
PY
"$worker" compare "$w/one/checkpoint.pt" "$w/two/checkpoint.pt" 1e-5

# Resume works for distributed runs, under torchrun's launcher: 2 ranks stop
# at step 12 (checkpoint), resume to 24 and log the metrics of the
# uninterrupted 2-rank run.
if command -v torchrun >/dev/null; then
  launch=(torchrun --redirects 1 --tee 1 --no_python --nproc_per_node 2
          --master_port $((20000 + RANDOM % 20000)))
  timeout 120 "${launch[@]}" "$ember" train "${common[@]}" --set data.batch_size=2 \
    --set train.max_steps=12 --set run.dir="$w/three" >"$w/three.log" 2>&1 ||
    { cat "$w/three.log"; exit 1; }
  timeout 120 "${launch[@]}" "$ember" train --resume "$w/three" \
    --set train.max_steps=24 >"$w/three-resumed.log" 2>&1 ||
    { cat "$w/three-resumed.log"; exit 1; }
  python3 - "$w/two/metrics.jsonl" "$w/three/metrics.jsonl" <<'PY'
import json, sys
two = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
three = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert [r["step"] for r in two] == [r["step"] for r in three], (two, three)
worst = max(abs(a[k] - b[k]) for a, b in zip(two, three) for k in ("train_loss", "val_loss"))
print(f"resumed 2-rank run: largest loss difference {worst:.3g}")
assert worst <= 1e-6, worst
PY
else
  echo "torchrun not found: the launcher and resume legs are skipped"
fi

#!/usr/bin/env bash
# kill -9 at random moments (issue 6): every time, `--resume` starts from the
# last complete checkpoint (or a fresh start when none was written yet) and
# finishes; the final metrics match an uninterrupted run within 1e-6.
# EMBER_KILL_TRIALS trials (default 20; CI may use fewer, at least 5).
#   bash train_kill9.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
trials="${EMBER_KILL_TRIALS:-20}"
((trials >= 5)) || trials=5
cfg=(--config configs/debug.toml --set train.threads=1 --set train.max_steps=30
  --set run.checkpoint_every=2)
reference_run "$w/ref" "${cfg[@]}"
resumed=0
for ((i = 0; i < trials; i++)); do
  d="$w/t$i"
  "$ember" train "${cfg[@]}" --set run.dir="$d" >/dev/null 2>&1 &
  pid=$!
  # A random moment within the run (its start-up included).
  sleep "$(random_moment)"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [[ -f "$d/checkpoint.pt" ]]; then
    "$ember" train --resume "$d" >"$w/log" 2>&1 || { echo "trial $i: resume failed"; cat "$w/log"; exit 1; }
    grep -q "resuming $d at step" "$w/log" && resumed=$((resumed + 1))
  else
    rm -rf "$d"
    "$ember" train "${cfg[@]}" --set run.dir="$d" >"$w/log" 2>&1 || { echo "trial $i: rerun failed"; cat "$w/log"; exit 1; }
  fi
  ls "$d" | grep -q "checkpoint.pt.tmp" && { echo "trial $i: temp file left"; exit 1; }
  python3 tests/cli/compare_metrics.py "$w/ref/metrics.jsonl" "$d/metrics.jsonl" 1e-6 >/dev/null ||
    { echo "trial $i: metrics differ from the uninterrupted run"; exit 1; }
  rm -rf "$d"
done
echo "ok: $trials kill -9 trials, $resumed resumed from a checkpoint (run takes ${ref_ms} ms)"

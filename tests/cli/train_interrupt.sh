#!/usr/bin/env bash
# Interruption: SIGINT (then SIGTERM) during training finishes the step,
# saves a checkpoint and exits 130; resuming from it gives the same metrics
# as a run never interrupted (within 1e-6).
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
# Long enough (20 epochs) that the signal lands mid-run.
cfg=(--config configs/debug.toml --set train.threads=1 --set train.epochs=20
  --set train.max_steps=0 --set run.checkpoint_every=0)
for sig in INT TERM; do
  run="$w/run-$sig"
  # SIGINT at its default action (lib/start.sh): an ember without its
  # handler dies by the signal (no checkpoint line) instead of ignoring it.
  interruptible "$ember" train "${cfg[@]}" --set run.dir="$run" >"$w/log" 2>&1
  pid=$!
  for _ in $(seq 600); do
    [[ -f "$run/metrics.jsonl" ]] && (($(wc -l <"$run/metrics.jsonl") >= 3)) && break
    sleep 0.05
  done
  kill -"$sig" "$pid"
  set +e
  wait "$pid"
  status=$?
  set -e
  [[ $status == 130 ]] || { echo "SIG$sig: expected exit 130, got $status"; cat "$w/log"; exit 1; }
  step=$(sed -n 's/^interrupted: checkpoint at step \([0-9]*\) .*/\1/p' "$w/log")
  [[ -n "$step" && -f "$run/checkpoint.pt" ]] || { echo "SIG$sig: no 'interrupted: checkpoint at step N' line"; cat "$w/log"; exit 1; }
  target=$((step + 17))
  "$ember" train --resume "$run" --set train.max_steps=$target >"$w/log2"
  grep -q "^resuming $run at step $step " "$w/log2" ||
    { echo "SIG$sig: did not resume at step $step"; cat "$w/log2"; exit 1; }
  "$ember" train "${cfg[@]}" --set train.max_steps=$target --set run.dir="$w/ref-$sig" >/dev/null
  python3 tests/cli/compare_metrics.py "$w/ref-$sig/metrics.jsonl" "$run/metrics.jsonl" 1e-6
  echo "SIG$sig at step $step: exit 130, resumed to $target"
done

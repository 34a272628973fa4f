#!/usr/bin/env bash
# SIGINT during a checkpoint write (issue 6): with a checkpoint after every
# step, each trial waits until a save is in progress (its temp file
# checkpoint.pt.tmp.<pid> exists), or a random moment, then fires SIGINT
# every few milliseconds until ember exits. Every time: exit 130 (or 0 when
# the run ended first), no temp file left, a checkpoint that loads, and
# `--resume` finishes the run with the metrics of an uninterrupted one (1e-6).
# EMBER_SIGINT_TRIALS trials (default 8, at least 2).
#   bash train_sigint_checkpoint.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
trials="${EMBER_SIGINT_TRIALS:-8}"
((trials >= 2)) || trials=2
cfg=(--config configs/debug.toml --set train.threads=1 --set train.max_steps=12
  --set run.checkpoint_every=1)
reference_run "$w/ref" "${cfg[@]}"
during_write=0
for ((i = 0; i < trials; i++)); do
  d="$w/t$i"
  "$ember" train "${cfg[@]}" --set run.dir="$d" >"$w/log" 2>&1 &
  pid=$!
  if ((i % 2 == 0)); then
    # Wait for a save in progress (the first one is after step 1).
    for _ in $(seq 200000); do
      compgen -G "$d/checkpoint.pt.tmp.*" >/dev/null && break
      kill -0 "$pid" 2>/dev/null || break
    done
    compgen -G "$d/checkpoint.pt.tmp.*" >/dev/null && during_write=$((during_write + 1))
  else
    # The handlers are installed right after the resolved config is printed.
    for _ in $(seq 2000); do
      grep -q "resolved config" "$w/log" 2>/dev/null && break
      sleep 0.005
    done
    sleep 0.02
    sleep "$(random_moment)"
  fi
  # A storm of SIGINTs: the first asks for a stop, the rest land during the
  # final save (and whatever else runs until the exit).
  while kill -INT "$pid" 2>/dev/null; do sleep 0.002; done
  set +e
  wait "$pid"
  status=$?
  set -e
  if [[ $status != 130 && $status != 0 ]]; then
    echo "trial $i: exit $status (expected 130, or 0 when the run had ended)"
    cat "$w/log"
    exit 1
  fi
  ! compgen -G "$d/checkpoint.pt.tmp.*" >/dev/null || { echo "trial $i: temp file left"; ls "$d"; exit 1; }
  if [[ $status == 130 ]]; then
    [[ -f "$d/checkpoint.pt" ]] || { echo "trial $i: exit 130 but no checkpoint"; cat "$w/log"; exit 1; }
    step=$(sed -n 's/^interrupted: checkpoint at step \([0-9]*\) .*/\1/p' "$w/log")
    "$ember" train --resume "$d" >"$w/log2" 2>&1 || { echo "trial $i: resume failed"; cat "$w/log" "$w/log2"; exit 1; }
    grep -q "resuming $d at step ${step:-[0-9]*}" "$w/log2" ||
      { echo "trial $i: did not resume from the step the stop reported (${step:-none})"; cat "$w/log" "$w/log2"; exit 1; }
  fi
  python3 tests/cli/compare_metrics.py "$w/ref/metrics.jsonl" "$d/metrics.jsonl" 1e-6 >/dev/null ||
    { echo "trial $i: metrics differ from the uninterrupted run"; exit 1; }
  rm -rf "$d"
done
echo "ok: $trials SIGINT-storm trials, $during_write fired while a checkpoint write was in progress (run takes ${ref_ms} ms)"

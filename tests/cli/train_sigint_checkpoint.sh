#!/usr/bin/env bash
# SIGINT during a checkpoint write (issue 6): with a checkpoint after every
# step, each trial waits until a save is in progress (its temp file
# checkpoint.pt.tmp.<pid> exists; failing that, until 2 evaluations are
# logged) or a random moment early in the training (after the first step
# and 0-5 more saves), then fires SIGINT every few milliseconds until ember exits.
# Every time: exit 130 with the `interrupted: checkpoint at step N` line, no
# temp file left, and `--resume` continues at step N and finishes the run
# with the metrics of an uninterrupted one (1e-6). ember starts with SIGINT
# at its default action (lib/start.sh interruptible), so an ember without its
# handler dies by the signal instead of finishing, and fails here.
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
  interruptible "$ember" train "${cfg[@]}" --set run.dir="$d" >"$w/log" 2>&1
  pid=$!
  if ((i % 2 == 0)); then
    # Wait for a save in progress (the first one is after step 1), or give up
    # at the second evaluation (step 6 of 12: still mid-run).
    n=0
    while kill -0 "$pid" 2>/dev/null; do
      compgen -G "$d/checkpoint.pt.tmp.*" >/dev/null && break
      if ((++n % 200 == 0)) && [[ -f "$d/metrics.jsonl" ]]; then
        mapfile -t rows <"$d/metrics.jsonl"
        ((${#rows[@]} >= 2)) && break
      fi
    done
    compgen -G "$d/checkpoint.pt.tmp.*" >/dev/null && during_write=$((during_write + 1))
  else
    # After the first step (its evaluation line) and a random number (0-5)
    # of further saves, plus up to 50 ms: always mid-run (steps 1-7 of 12),
    # however fast the machine. (A stop before the first step saves nothing
    # and prints no `interrupted:` line: not what this test checks.)
    while kill -0 "$pid" 2>/dev/null; do
      grep -q "^ep 1 (step 000001)" "$w/log" 2>/dev/null && break
      sleep 0.005
    done
    wait_saves "$pid" "$d/checkpoint.pt" $((RANDOM % 6))
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", r / 32768 * 0.05 }')"
  fi
  # A storm of SIGINTs: the first asks for a stop, the rest land during the
  # final save (and whatever else runs until the exit).
  while kill -INT "$pid" 2>/dev/null; do sleep 0.002; done
  set +e
  wait "$pid"
  status=$?
  set -e
  step=$(sed -n 's/^interrupted: checkpoint at step \([0-9]*\) .*/\1/p' "$w/log")
  if [[ $status != 130 || -z "$step" ]]; then
    echo "trial $i: exit $status, interrupted line: '${step:-none}' (expected exit 130 and 'interrupted: checkpoint at step N')"
    cat "$w/log"
    exit 1
  fi
  ! compgen -G "$d/checkpoint.pt.tmp.*" >/dev/null || { echo "trial $i: temp file left"; ls "$d"; exit 1; }
  [[ -f "$d/checkpoint.pt" ]] || { echo "trial $i: exit 130 but no checkpoint"; cat "$w/log"; exit 1; }
  "$ember" train --resume "$d" >"$w/log2" 2>&1 || { echo "trial $i: resume failed"; cat "$w/log" "$w/log2"; exit 1; }
  grep -q "^resuming $d at step $step " "$w/log2" ||
    { echo "trial $i: did not resume from the step the stop reported ($step)"; cat "$w/log" "$w/log2"; exit 1; }
  python3 tests/cli/compare_metrics.py "$w/ref/metrics.jsonl" "$d/metrics.jsonl" 1e-6 ||
    { echo "trial $i: metrics differ from the uninterrupted run"; exit 1; }
  echo "trial $i: exit 130, interrupted at step $step, resumed"
  rm -rf "$d"
done
echo "ok: $trials SIGINT-storm trials, $during_write fired while a checkpoint write was in progress (the uninterrupted run takes ${ref_ms} ms)"

#!/usr/bin/env bash
# kill -9 at random moments (issue 6): every time, `--resume` starts from the
# last complete checkpoint (or a fresh start when none was written yet) and
# finishes; the final metrics match an uninterrupted run within 1e-6. One
# trial in three kills at a random moment of the whole run (start-up
# included); the others wait for the first checkpoint and 0-5 more, so that
# at least half of the trials (and at least 3) must have resumed mid-run from
# a checkpoint: a resume that quietly started over would still match the
# metrics, and fails here.
# EMBER_KILL_TRIALS trials (default 20; CI may use fewer, at least 5).
#   bash train_kill9.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
trials="${EMBER_KILL_TRIALS:-20}"
((trials >= 5)) || trials=5
max_steps=30
cfg=(--config configs/debug.toml --set train.threads=1 --set train.max_steps=$max_steps
  --set run.checkpoint_every=2)
reference_run "$w/ref" "${cfg[@]}"
resumed=0
for ((i = 0; i < trials; i++)); do
  d="$w/t$i"
  "$ember" train "${cfg[@]}" --set run.dir="$d" >/dev/null 2>&1 &
  pid=$!
  if ((i % 3 == 0)); then
    # A random moment within the run (its start-up included).
    sleep "$(random_moment)"
  else
    # After the first checkpoint (step 2) and a random number (0-5) of
    # further ones, plus up to 200 ms: mid-run (by step 14 of 30) however
    # fast the machine.
    while kill -0 "$pid" 2>/dev/null && [[ ! -f "$d/checkpoint.pt" ]]; do sleep 0.005; done
    wait_saves "$pid" "$d/checkpoint.pt" $((RANDOM % 6))
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", r / 32768 * 0.2 }')"
  fi
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  how="fresh start"
  if [[ -f "$d/checkpoint.pt" ]]; then
    "$ember" train --resume "$d" >"$w/log" 2>&1 || { echo "trial $i: resume failed"; cat "$w/log"; exit 1; }
    step=$(sed -n "s|^resuming $d at step \([0-9]*\) .*|\1|p" "$w/log")
    [[ -n "$step" ]] || { echo "trial $i: a checkpoint, but no 'resuming' line"; cat "$w/log"; exit 1; }
    how="resumed at step $step"
    ((step < max_steps)) && resumed=$((resumed + 1))
  else
    rm -rf "$d"
    "$ember" train "${cfg[@]}" --set run.dir="$d" >"$w/log" 2>&1 || { echo "trial $i: rerun failed"; cat "$w/log"; exit 1; }
  fi
  ! ls "$d" | grep -q "checkpoint.pt.tmp" || { echo "trial $i: temp file left"; exit 1; }
  python3 tests/cli/compare_metrics.py "$w/ref/metrics.jsonl" "$d/metrics.jsonl" 1e-6 >"$w/cmp" ||
    { echo "trial $i ($how): metrics differ from the uninterrupted run"; cat "$w/cmp"; exit 1; }
  echo "trial $i: $how"
  rm -rf "$d"
done
need=$(((trials + 1) / 2))
((need >= 3)) || need=3
echo "$trials kill -9 trials, $resumed resumed mid-run from a checkpoint (need $need; the uninterrupted run takes ${ref_ms} ms)"
((resumed >= need)) || { echo "FAIL: only $resumed trials resumed mid-run (expected at least $need)"; exit 1; }
echo "ok"

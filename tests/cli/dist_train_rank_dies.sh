#!/usr/bin/env bash
# A rank that dies mid-run (kill -9) or stops answering (SIGSTOP) makes the
# other exit non-zero with a clear one-line error within the collective
# timeout (train.dist_timeout_s), instead of hanging.
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/dist.sh"
trap 'kill -CONT $(jobs -p) 2>/dev/null || true; kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$w"' EXIT

# rank_fails SIGNAL TIMEOUT_S MAX_S: starts 2 ranks, sends SIGNAL to rank 1
# once rank 0 logged an evaluation; rank 0 must exit non-zero (not by a
# signal, not by the outer `timeout`) within MAX_S seconds, with one line on
# stderr that names the distributed failure.
rank_fails() {
  local sig="$1" limit="$2" max="$3" port=$((20000 + RANDOM % 20000)) victim survivor
  local args=(train --config configs/debug.toml --set train.max_steps=100000 --set train.epochs=1000
    --set train.dist_timeout_s="$limit" --set run.dir="$w/run-$sig")
  RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$ember" "${args[@]}" >"$w/r1.log" 2>&1 &
  victim=$!
  RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 300 "$ember" "${args[@]}" \
    >"$w/r0.log" 2>"$w/r0.err" &
  survivor=$!
  # The first evaluation of debug.toml's 2-block GPT takes over 30 s under
  # ASan on a busy 2-core machine: wait up to 180 s for it.
  for _ in $(seq 1 1800); do
    grep -q "train loss" "$w/r0.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "train loss" "$w/r0.log" || { echo "training never started"; cat "$w"/r*.log "$w/r0.err"; exit 1; }
  kill -"$sig" "$victim"
  local start=$SECONDS status
  set +e
  wait "$survivor"
  status=$?
  set -e
  local elapsed=$((SECONDS - start))
  kill -CONT "$victim" 2>/dev/null || true
  kill -9 "$victim" 2>/dev/null || true
  wait "$victim" 2>/dev/null || true
  echo "SIG$sig: survivor exit $status after ${elapsed}s: $(cat "$w/r0.err")"
  [[ $status -ne 0 && $status -ne 124 && $status -lt 128 ]] || { echo "expected a clean non-zero exit"; exit 1; }
  [[ $elapsed -le $max ]] || { echo "took ${elapsed}s (limit ${max}s)"; exit 1; }
  [[ $(wc -l <"$w/r0.err") -eq 1 ]] || { echo "expected one line on stderr"; exit 1; }
  grep -q "distributed" "$w/r0.err"
}

# A dead peer closes its sockets: noticed at once, well before the timeout.
rank_fails KILL 20 15
# A stopped peer keeps its sockets open: only the timeout ends the wait.
rank_fails STOP 5 30

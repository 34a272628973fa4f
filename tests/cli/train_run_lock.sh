#!/usr/bin/env bash
# One run per run.dir (issue 13): while `ember train` runs, (a) a second run
# into the same run.dir and (b) a --resume of it are refused with one line
# naming the holder's pid, exit 1, touching nothing; the first run finishes
# 0 with the metrics of an undisturbed run. (c) After a kill -9 the lock is
# gone with the process: --resume at once works.
#   bash train_run_lock.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
pid=""
# On a failure, the first run still going is ended (pid is cleared once it
# has been waited for).
trap 'if [[ -n $pid ]]; then kill -9 "$pid" 2>/dev/null || true; kill -CONT "$pid" 2>/dev/null || true; fi; wait || true; rm -rf "$w"' EXIT
# The first run is held with SIGSTOP while the second command runs (a stopped
# process keeps its lock), so a short run meets it on any machine; SIGCONT
# lets it finish.
cfg=(--config configs/debug.toml --set train.threads=1 --set train.max_steps=20
  --set run.checkpoint_every=2)
"$ember" train "${cfg[@]}" --set run.dir="$w/ref" >/dev/null 2>&1

wait_for() { # file pid: until file exists (the run holds the lock by then), then stops the run
  for _ in $(seq 3000); do
    [[ -e "$1" ]] && { kill -STOP "$2"; return 0; }
    kill -0 "$2" 2>/dev/null || { echo "the run ended before writing $1"; exit 1; }
    sleep 0.01
  done
  echo "timed out waiting for $1"
  exit 1
}

# refused PID ARGS...: `ember train ARGS` exits 1 with the one-line lock
# message naming PID, while PID still runs.
refused() {
  local holder="$1" dir="$2"
  shift 2
  set +e
  "$ember" train "$@" >/dev/null 2>"$w/err"
  local st=$?
  set -e
  [[ $st == 1 ]] || { echo "expected exit 1, got $st: $*"; cat "$w/err"; exit 1; }
  local want="ember: error: run.dir $dir: in use by another ember run (pid $holder); hint: wait for it to finish, or choose another run.dir"
  [[ "$(cat "$w/err")" == "$want" ]] || { echo "expected '$want', got:"; cat "$w/err"; exit 1; }
  kill -0 "$holder" 2>/dev/null || { echo "the first run ended before the refusal was checked"; exit 1; }
}

# finished PID DIR: the first run exits 0, whole, and nothing was moved.
finished() {
  local st=0
  wait "$1" || st=$?
  pid=""
  [[ $st == 0 ]] || { echo "the first run failed ($st):"; cat "$w/first.log"; exit 1; }
  [[ ! -e "$2.1" ]] || { echo "$2 was moved aside"; exit 1; }
  python3 tests/cli/compare_metrics.py "$w/ref/metrics.jsonl" "$2/metrics.jsonl" 0 >/dev/null ||
    { echo "the first run's metrics differ from an undisturbed run"; exit 1; }
  grep -q "^done: 20 steps" "$w/first.log" || { cat "$w/first.log"; exit 1; }
}

# (a) a fresh run into a running run's folder.
d="$w/a"
"$ember" train "${cfg[@]}" --set run.dir="$d" >"$w/first.log" 2>&1 &
pid=$!
wait_for "$d/config.toml" "$pid"
before="$(sha256sum "$d/config.toml")"
refused "$pid" "$d" "${cfg[@]}" --set run.dir="$d"
[[ "$(sha256sum "$d/config.toml")" == "$before" ]] || { echo "config.toml rewritten"; exit 1; }
kill -CONT "$pid"
finished "$pid" "$d"

# (b) --resume of a running run (its checkpoint exists, so only the lock
# stops it).
d="$w/b"
"$ember" train "${cfg[@]}" --set run.dir="$d" >"$w/first.log" 2>&1 &
pid=$!
wait_for "$d/checkpoint.pt" "$pid"
refused "$pid" "$d" --resume "$d"
kill -CONT "$pid"
finished "$pid" "$d"

# (c) kill -9, then --resume at once: the kernel released the lock.
d="$w/c"
"$ember" train "${cfg[@]}" --set run.dir="$d" >/dev/null 2>&1 &
pid=$!
wait_for "$d/checkpoint.pt" "$pid"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=""
"$ember" train --resume "$d" >"$w/log" 2>&1 || { echo "resume after kill -9 failed:"; cat "$w/log"; exit 1; }
grep -q "resuming $d at step" "$w/log" || { cat "$w/log"; exit 1; }
python3 tests/cli/compare_metrics.py "$w/ref/metrics.jsonl" "$d/metrics.jsonl" 1e-6 >/dev/null ||
  { echo "the resumed run's metrics differ from an undisturbed run"; exit 1; }
echo "ok: second run and --resume refused while running; resume after kill -9"

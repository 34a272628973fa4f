# Sourced by the distributed tests (tests/cli/dist_*.sh), after their strict
# mode, with the ember binary as $1: skips the test (exit 77) when the build
# has no Gloo backend (a LibTorch without Gloo's headers builds without it),
# sets $worker (tests/ember_dist_worker beside the binary) and defines
# two_ranks.
# A --version that fails (a crash, a sanitizer report) is a failure, not a
# skip: only a build that says it has no Gloo skips.
dist_version="$("$1" --version 2>&1)" ||
  { echo "FAIL: $1 --version failed (status $?): $dist_version"; exit 1; }
grep -q 'backends:' <<<"$dist_version" ||
  { echo "FAIL: $1 --version names no backends: $dist_version"; exit 1; }
grep -q 'backends:.*gloo' <<<"$dist_version" ||
  { echo "skipped: $(basename "$0" .sh): no Gloo in this build ($(grep 'backends:' <<<"$dist_version"))"; exit 77; }
worker="$(dirname "$1")/tests/ember_dist_worker"

# two_ranks SECONDS LOGS COMMAND...: runs COMMAND as rank 0 and rank 1 of a
# 2-process group on loopback (torchrun's variables, a random port), each
# under `timeout SECONDS`; LOGS is a path prefix for LOGS.rank<r>.log, or -
# to leave the output on the terminal. Fails (showing the logs) when either
# rank fails.
two_ranks() {
  local limit="$1" logs="$2" port=$((20000 + RANDOM % 20000)) pids=() r p status=0
  shift 2
  for r in 0 1; do
    if [[ "$logs" == - ]]; then
      RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
        timeout "$limit" "$@" &
    else
      RANK=$r WORLD_SIZE=2 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
        timeout "$limit" "$@" >"$logs.rank$r.log" 2>&1 &
    fi
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  if ((status != 0)) && [[ "$logs" != - ]]; then cat "$logs".rank*.log; fi
  return "$status"
}

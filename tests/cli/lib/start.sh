# Sourced first by the scripted training tests (tests/cli/train_*.sh, and the
# distributed ones before lib/dist.sh), which run as
# `bash SCRIPT <ember-binary> <source-dir>`: strict mode, $ember and $src from
# the arguments, the source folder as working directory, and a scratch folder
# $w removed on exit.
set -euo pipefail
ember="$1"
src="$2"
cd "$src"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT

# reference_run DIR ARGS...: an uninterrupted `ember train ARGS` into DIR, the
# run the interrupted trials are compared with; sets $ref_ms to its wall
# time and seeds $RANDOM from this shell's pid (each trial draws its moment).
reference_run() {
  local dir="$1" t0
  shift
  t0=$(date +%s%N)
  "$ember" train "$@" --set run.dir="$dir" >/dev/null 2>&1
  ref_ms=$((($(date +%s%N) - t0) / 1000000))
  RANDOM=$$
}

# random_moment: a random number of seconds within the reference run (for
# sleep).
random_moment() {
  awk -v r=$RANDOM -v ms="$ref_ms" 'BEGIN { printf "%.3f", r / 32768 * ms / 1000 }'
}

# interruptible COMMAND...: COMMAND in the background ($! is its pid) with
# SIGINT at its default action. A non-interactive bash starts background
# commands with SIGINT ignored, and the ignore survives exec; without this,
# `kill -INT` does nothing to an ember that installed no handler, and a test
# could not tell a working handler from a missing one (both end with a
# finished run). With it, a missing handler means death by SIGINT (status
# 130 but no `interrupted:` line).
interruptible() {
  env --default-signal=INT "$@" &
}

# wait_saves PID FILE N: waits (while PID runs) until FILE has been replaced
# N times (each save renames a new file over it, so its inode changes); a
# moment tied to the run's progress, not to the clock, so a faster or slower
# machine still lands mid-run.
wait_saves() {
  local pid="$1" file="$2" n="$3" seen=0 ino="" cur
  while ((seen < n)) && kill -0 "$pid" 2>/dev/null; do
    cur=$(stat -c %i "$file" 2>/dev/null || true)
    if [[ -n "$cur" && "$cur" != "$ino" ]]; then
      [[ -n "$ino" ]] && seen=$((seen + 1))
      ino="$cur"
    fi
    sleep 0.005
  done
}

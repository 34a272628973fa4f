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

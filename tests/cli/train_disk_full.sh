#!/usr/bin/env bash
# A disk that fills during a checkpoint write: the run fails with one line
# naming the checkpoint and the cause, and the previous checkpoint survives
# (byte-identical, and resumable). Uses a small tmpfs (needs mount rights;
# skipped with 77 otherwise).   bash train_disk_full.sh <ember> <source-dir>
set -euo pipefail
ember="$1"
src="$2"
cd "$src"
w="$(mktemp -d)"
mnt="$w/mnt"
mkdir "$mnt"
cleanup() { umount "$mnt" 2>/dev/null || true; rm -rf "$w"; }
trap cleanup EXIT
cfg=(--config configs/debug.toml --set train.threads=1)
"$ember" train "${cfg[@]}" --set train.max_steps=10 --set run.dir="$w/seed" >/dev/null 2>&1
size=$(stat -c %s "$w/seed/checkpoint.pt")
# Room for the run's files and one checkpoint, not for a second one beside it.
kb=$(((size + size / 2) / 1024))
mount -t tmpfs -o size=${kb}k tmpfs "$mnt" 2>/dev/null ||
  { echo "skipped: train_disk_full: cannot mount a tmpfs (needs root or CAP_SYS_ADMIN)"; exit 77; }
cp -r "$w/seed" "$mnt/run"
before="$(sha256sum <"$mnt/run/checkpoint.pt")"
set +e
"$ember" train --resume "$mnt/run" --set train.max_steps=30 >/dev/null 2>"$w/err"
st=$?
set -e
[[ $st == 1 ]] || { echo "expected status 1, got $st"; cat "$w/err"; exit 1; }
[[ $(wc -l <"$w/err") == 1 ]] || { echo "expected one line:"; cat "$w/err"; exit 1; }
want="ember: error: checkpoint $mnt/run/checkpoint.pt: cannot write (no space left on device); the previous checkpoint, if any, is unchanged"
[[ "$(cat "$w/err")" == "$want" ]] ||
  { echo "unexpected message:"; cat "$w/err"; echo "expected:"; echo "$want"; exit 1; }
[[ "$(sha256sum <"$mnt/run/checkpoint.pt")" == "$before" ]] || { echo "previous checkpoint modified"; exit 1; }
ls "$mnt/run" | grep -q "tmp" && { echo "temp file left behind"; ls "$mnt/run"; exit 1; }
# The surviving checkpoint still resumes (elsewhere, with room).
cp -r "$mnt/run" "$w/again"
"$ember" train --resume "$w/again" --set train.max_steps=30 >"$w/log" 2>&1
grep -q "resuming $w/again at step 10" "$w/log" || { cat "$w/log"; exit 1; }
echo "ok: $(cat "$w/err")"

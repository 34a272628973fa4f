#!/usr/bin/env bash
# Resume: a run stopped at a checkpoint (max_steps) and resumed gives the same
# metrics as an uninterrupted run (within 1e-6); a checkpoint from another
# config, a corrupted one and a truncated one are refused and left untouched.
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
cfg=(--config configs/debug.toml --set train.threads=1)
"$ember" train "${cfg[@]}" --set train.max_steps=60 --set run.dir="$w/a" >/dev/null
"$ember" train "${cfg[@]}" --set train.max_steps=23 --set run.dir="$w/b" >/dev/null
"$ember" train --resume "$w/b" --set train.max_steps=60 >"$w/resume.log"
grep -q "resuming $w/b at step 23" "$w/resume.log"
python3 tests/cli/compare_metrics.py "$w/a/metrics.jsonl" "$w/b/metrics.jsonl" 1e-6

expect_fail() { # status message-fragment args...
  local want="$1" msg="$2"
  shift 2
  local before
  before="$(sha256sum "$w/b/checkpoint.pt")"
  set +e
  "$ember" train "$@" >/dev/null 2>"$w/err"
  local got=$?
  set -e
  [[ $got == "$want" ]] || { echo "expected status $want, got $got: $*"; cat "$w/err"; exit 1; }
  grep -qF "$msg" "$w/err" || { echo "expected '$msg' in:"; cat "$w/err"; exit 1; }
  [[ $(wc -l <"$w/err") == 1 ]] || { echo "expected one line:"; cat "$w/err"; exit 1; }
  [[ "$(sha256sum "$w/b/checkpoint.pt")" == "$before" ]] || { echo "checkpoint modified"; exit 1; }
}
expect_fail 2 "the checkpoint was made with a different config (model.emb_dim differ)" \
  --resume "$w/b" --set model.emb_dim=32
good="$w/b/checkpoint.pt.good"
cp "$w/b/checkpoint.pt" "$good"
# Flip one byte in the middle.
size=$(stat -c %s "$good")
printf '\xff' | dd of="$w/b/checkpoint.pt" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$good" "$w/b/checkpoint.pt" && printf '\x00' | dd of="$w/b/checkpoint.pt" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect_fail 1 "checksum mismatch" --resume "$w/b"
head -c $((size - 1000)) "$good" >"$w/b/checkpoint.pt"
expect_fail 1 "not a complete ember checkpoint" --resume "$w/b"
rm "$w/b/checkpoint.pt"
set +e; "$ember" train --resume "$w/b" >/dev/null 2>"$w/err"; st=$?; set -e
[[ $st == 1 ]] && grep -qF "no such file" "$w/err"
echo "resume ok"

#!/usr/bin/env bash
# `ember train` refuses bad configs before any work: exit 2, one line on
# stderr naming the key, and nothing written to run.dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
printf 'I HAD always thought Jack Gisburn rather a cheap genius.\n' >"$w/tiny.txt"
printf '[data]\nbatch_size = 2\nbatch_size = 3\n' >"$w/dup.toml"
printf '[data]\nstride = [1\n' >"$w/syntax.toml"
n=0
check() { # status expected-stderr args...
  local want="$1" msg="$2"
  shift 2
  set +e
  "$ember" train --set run.dir="$w/run" "$@" >/dev/null 2>"$w/err"
  local got=$?
  set -e
  n=$((n + 1))
  [[ $got == "$want" ]] || { echo "case $n: expected status $want, got $got: $*"; cat "$w/err"; exit 1; }
  [[ "$(cat "$w/err")" == "$msg" ]] || { echo "case $n: expected: $msg"; echo "got:"; cat "$w/err"; exit 1; }
  [[ ! -e "$w/run" ]] || { echo "case $n: run.dir was written"; exit 1; }
}
check 2 "ember: error: --set data.batchsize=3: unknown key 'data.batchsize'; hint: did you mean 'data.batch_size'?" \
  --set data.batchsize=3
check 2 "ember: error: --set train.epochs=0: train.epochs out of range (got 0, expected 1 to 1048576)" \
  --set train.epochs=0
check 2 "ember: error: --set data.stride=x: data.stride has the wrong type (got 'x', expected integer)" \
  --set data.stride=x
check 2 "ember: error: configs/verdict.toml: data.max_length exceeds model.context_length (got 512, expected <= 256)" \
  --set data.max_length=512
check 2 "ember: error: data.path: no such file '$w/none.txt'" --set data.path="$w/none.txt"
check 2 "ember: error: model.pos_encoding: unknown encoding 'rope' (expected one of: learned, sinusoidal)" \
  --set model.pos_encoding=rope
check 2 "ember: error: read $w/nope.toml: no such file" --config "$w/nope.toml"
check 2 "ember: error: data: the training part of $w/tiny.txt has 13 tokens, expected at least max_length + 1 = 257; hint: lower data.max_length or use a longer text" \
  --set data.path="$w/tiny.txt"
check 2 "ember: error: model.vocab_size: the data has token id 50085 (got vocab_size 1000, expected > 50085)" \
  --set model.vocab_size=1000
set +e
"$ember" train --config "$w/dup.toml" --set run.dir="$w/run" 2>"$w/err" >/dev/null
st=$?
set -e
[[ $st == 2 ]] && grep -qE "^ember: error: $w/dup.toml:3:[0-9]*: toml syntax error: .*batch_size" "$w/err" || { cat "$w/err"; exit 1; }
set +e
"$ember" train --config "$w/syntax.toml" --set run.dir="$w/run" 2>"$w/err" >/dev/null
st=$?
set -e
[[ $st == 2 ]] && grep -q "^ember: error: $w/syntax.toml:2:" "$w/err" || { cat "$w/err"; exit 1; }
# CUDA: on a CPU-only LibTorch the message names the missing support; with a
# GPU, cuda:99 names the missing device. Either way: status 2.
set +e
"$ember" train --set train.device=cuda:99 --set run.dir="$w/run" 2>"$w/err" >/dev/null
st=$?
set -e
[[ $st == 2 ]] && grep -qE "^ember: error: train.device: cuda:99 requested but this LibTorch build has no CUDA support|^ember: error: train.device: (cuda:99 requested but no CUDA device|no such CUDA device)" "$w/err" ||
  { echo "cuda: $st"; cat "$w/err"; exit 1; }
echo "config errors ok ($((n + 3)) cases)"

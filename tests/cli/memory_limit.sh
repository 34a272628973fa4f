#!/usr/bin/env bash
# A corpus larger than the memory limit (issue 7; issue 6 "Memory"): under
# `ulimit -d` (RLIMIT_DATA: the heap and every private writable mapping, i.e.
# the memory the process itself takes) far below the corpus size, ember
# tokenizes a ~1 GB text to a token file and trains over it; the same limit
# makes `ember train` / `ember batches` on the TEXT (which would hold it and
# its int64 ids in memory) fail at once with the estimate and the fix, not be
# killed. Tokenizing also runs under `ulimit -v` with little address space to
# spare. Limits are set relative to what the LibTorch-linked binary already
# takes at start (measured here: ~350 MB VmData, ~860 MB VmSize), which no
# limit can go under; the torch-free front that tokenizes takes ~21 MB
# VmData and ~27 MB VmSize. Set EMBER_MEMTEST_MB to change the corpus size
# (default: 1000 MB, more when LibTorch itself takes more, see below).
#   bash memory_limit.sh <ember> <source-dir>
set -euo pipefail
ember="$1"
src="$2"
fail() {
  echo "FAIL: $*"
  exit 1
}
[[ -r /proc/self/status ]] || { echo "skipped: memory_limit: no readable /proc (it reads VmData/VmSize there)"; exit 77; }
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT

# The baselines, in KB: what an idle `ember tokenize` takes (the torch-free
# front, waiting on its stdin) and what an idle LibTorch command takes
# (ember-torch, here `batches` blocked opening a FIFO nobody writes yet).
# Tokenizing is limited relative to the first, training and batches relative
# to the second.
vm_of() { # PATTERN -> "VmData VmSize" of the newest process matching it
  local p
  p="$(pgrep -n -f "$1" || true)"
  [[ -n "$p" ]] && awk '/^VmData:/ {d = $2} /^VmSize:/ {s = $2} END {print d, s}' "/proc/$p/status"
}
sleep 3 | "$ember" tokenize --input - >/dev/null &
sleep 1.5
read -r base_data base_size < <(vm_of "^$ember tokenize --input -$") || true
wait
mkfifo "$w/fifo"
"$ember" batches --input "$w/fifo" --batch-size 1 --max-length 1 --stride 1 >/dev/null 2>&1 &
torch_pid=$!
sleep 1.5
read -r torch_data torch_size < <(vm_of "^$ember batches --input $w/fifo") || true
kill "$torch_pid"
wait "$torch_pid" || true
rm -f "$w/fifo"
[[ -n "${base_size:-}" ]] || fail "could not find the idle 'ember tokenize' process"
[[ -n "${torch_size:-}" ]] || fail "could not find the idle 'ember batches' process"
# A sanitizer build reserves terabytes of address space at start (ASan's
# shadow memory), which no ulimit can bound: this test needs a plain build.
if ((base_size > 1024 * 1024 * 1024)); then
  echo "skipped: memory_limit: ember reserves $((base_size / 1024 / 1024 / 1024)) TB of address space at start (a sanitizer build); ulimits need a plain build"
  exit 77
fi
# Headroom above the baseline: 384 MB covers training (LibTorch's OpenBLAS
# alone takes a 128 MiB buffer at the first matrix product).
limit_d=$((base_data + 384 * 1024))
limit_v=$((base_size + 256 * 1024))
torch_limit_d=$((torch_data + 384 * 1024))
# The corpus: 1000 MB, or a third more than the LibTorch data limit when that
# is larger (a CUDA LibTorch 2.x starts at ~590 MB VmData, Debian's at ~350).
mb="${EMBER_MEMTEST_MB:-$((torch_limit_d / 1024 * 4 / 3 > 1000 ? torch_limit_d / 1024 * 4 / 3 : 1000))}"
avail_kb="$(df -Pk "$w" | awk 'NR == 2 {print $4}')"
((avail_kb > mb * 1024 * 2)) || { echo "skipped: memory_limit: need $((mb * 2)) MB free in $w (have $((avail_kb / 1024)) MB)"; exit 77; }

# The corpus: one 326-byte paragraph (76 tokens, ending in a newline, so the
# ids of N copies are N times its ids) repeated to about $mb MB.
p='I HAD always thought Jack Gisburn rather a cheap genius--though a good fellow enough--so it was no great surprise to me to hear that, in the height of his glory, he had dropped his painting, married a rich widow, and established himself in a villa on the Riviera. (Though I rather thought it would have been Rome or Florence.)'
n=$((mb * 1000000 / (${#p} + 1)))
(yes "$p" || true) | head -n "$n" >"$w/corpus.txt"
size=$(stat -c %s "$w/corpus.txt")
echo "corpus $((size / 1000000)) MB; baseline VmData $((base_data / 1024)) MB, VmSize $((base_size / 1024)) MB" \
  "(with LibTorch $((torch_data / 1024)) MB, $((torch_size / 1024)) MB);" \
  "ulimit -d $((limit_d / 1024)) MB (+384), ulimit -v $((limit_v / 1024)) MB (+256)," \
  "ulimit -d $((torch_limit_d / 1024)) MB (+384) with LibTorch"
((torch_limit_d * 1024 < size)) || fail "the data limit is not below the corpus size"

# 1. Tokenize under each limit: the whole corpus, every token.
(ulimit -d "$limit_d" && "$ember" tokenize --input "$w/corpus.txt" --format bin16 --output "$w/corpus.bin") ||
  fail "tokenize under ulimit -d failed"
want=$((64 + 2 * 76 * n))
[[ "$(stat -c %s "$w/corpus.bin")" == "$want" ]] || fail "token file size $(stat -c %s "$w/corpus.bin"), expected $want"
# Two encoding threads: each thread reserves address space of its own (an
# 8 MB stack, a 64 MB glibc malloc arena), which the 256 MB of headroom
# covers for 2 threads but not for all 16 cores of a larger machine.
(ulimit -v "$limit_v" && "$ember" tokenize --threads 2 --input "$w/corpus.txt" --format bin16 --output "$w/v.bin") ||
  fail "tokenize under ulimit -v failed"
cmp -s "$w/corpus.bin" "$w/v.bin" || fail "the token files differ"
rm -f "$w/v.bin"

# 2. Train over the token file under the data limit (a token file is mapped,
# not loaded). What grows with the corpus is the shuffled order, 8 bytes per
# window: stride 256 keeps it at 7 MB here; stride 1 is refused up front.
cd "$src"
(ulimit -d "$torch_limit_d" && "$ember" train --config configs/debug.toml --set data.path="$w/corpus.bin" \
  --set data.stride=256 --set run.dir="$w/run" --set train.max_steps=10 --set train.eval_freq=5 \
  >"$w/train.log" 2>&1) ||
  fail "train over the token file under ulimit -d: $(tail -3 "$w/train.log")"
grep -q "^data: training on $((76 * n * 9 / 10)) tokens" "$w/train.log" || fail "no data line: $(cat "$w/train.log")"
grep -q '^done: 10 steps' "$w/train.log" || fail "training did not finish: $(tail -3 "$w/train.log")"
(ulimit -d "$torch_limit_d" && "$ember" batches --input "$w/corpus.bin" --batch-size 4 --max-length 64 --stride 64 \
  --shuffle --limit 3 >"$w/batches") || fail "batches over the token file under ulimit -d"
[[ $(wc -l <"$w/batches") == 3 ]] || fail "batches: $(wc -l <"$w/batches") lines"
set +e
(ulimit -d "$torch_limit_d" && "$ember" train --config configs/debug.toml --set data.path="$w/corpus.bin" \
  --set data.stride=1 --set run.dir="$w/run1" >/dev/null 2>"$w/err")
status=$?
set -e
[[ $status == 1 ]] || fail "stride 1: exit $status: $(cat "$w/err")"
grep -qE "^ember: error: data: shuffling [0-9]+ training windows needs about [0-9.]+ GB for their order \(8 bytes per window, twice during evaluation\), more than the [0-9.]+ MB available \(ulimit -d\); hint: raise data.stride" "$w/err" ||
  fail "stride 1: $(cat "$w/err")"

# 3. The text itself: refused at once with the estimate and the fix.
refused() {
  local what="$1"
  shift
  local start status
  start=$(date +%s)
  set +e
  (ulimit -d "$torch_limit_d" && "$@" >/dev/null 2>"$w/err")
  status=$?
  set -e
  [[ $status == 1 ]] || fail "$what: exit $status (expected 1): $(cat "$w/err")"
  (($(date +%s) - start < 10)) || fail "$what: took too long to refuse"
  [[ $(wc -l <"$w/err") == 1 ]] || fail "$what: $(cat "$w/err")"
  grep -qE "$w/corpus.txt: holding this [0-9.]+ [MG]B text and its ids in memory needs about [0-9.]+ GB, more than the [0-9.]+ MB available \(ulimit -d\); hint: tokenize it once \(ember tokenize --input $w/corpus.txt --format bin16 --output $w/corpus.bin\) and use the token file instead" "$w/err" ||
    fail "$what: $(cat "$w/err")"
}
refused "train on the text" "$ember" train --config configs/debug.toml --set data.path="$w/corpus.txt" --set run.dir="$w/text"
refused "batches on the text" "$ember" batches --input "$w/corpus.txt" --batch-size 4 --max-length 64 --stride 64
[[ ! -e "$w/text" ]] || fail "the refused run created its run.dir"
echo "ok: $(cat "$w/err")"

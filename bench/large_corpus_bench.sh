#!/usr/bin/env bash
# Large-corpus benchmark (issue 7), one run, one table (bench/README.md,
# "Large corpora"):
#   1. `ember tokenize --format bin16` throughput (MB/s) at 1 thread and at
#      all cores on each bench corpus and on their concatenation repeated to
#      >= 1 GB (written to a temp folder, deleted at the end), parallel
#      efficiency = speedup / threads, peak RSS (/usr/bin/time -v);
#   2. peak RSS (anonymous and file-backed, sampled from /proc) and tokens/s
#      of `ember train` over the 1 GB token file;
#   3. training tokens/s over the same ids in memory (text files) and from
#      token files (mixed.txt for training, code.txt for validation);
#   4. window-serving batches/s from the mapping vs in-memory ids
#      (bench/window_bench).
#   bash bench/large_corpus_bench.sh [build-dir]     (after building)
# Environment: EMBER_BENCH_DIR (default ../shared/data/bench), BIG_MB (1000),
# TRAIN_STEPS (300), TOKENIZE_ONLY (1 = only part 1).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
ember="$PWD/$build/ember"
bench_dir="${EMBER_BENCH_DIR:-../shared/data/bench}"
big_mb="${BIG_MB:-1000}"
steps="${TRAIN_STEPS:-300}"
cores="$(nproc)"
[[ -x "$ember" ]] || { echo "build first: $ember"; exit 1; }
[[ -f "$bench_dir/mixed.txt" ]] || { echo "no bench corpora in $bench_dir"; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1e6}' /proc/meminfo) RAM;" \
  "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%Y-%m-%d %H:%M UTC')"

# time_run OUT CMD...: runs CMD under /usr/bin/time -v; OUT gets "seconds kb".
time_run() {
  local out="$1"
  shift
  /usr/bin/time -v "$@" 2>"$tmp/time.txt" >/dev/null
  awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]}
              /Maximum resident set size/ {kb = $2} END {print s, kb}' "$tmp/time.txt" >"$out"
}

# Baseline: the LibTorch-linked binary doing (almost) nothing.
printf 'hello' >"$tmp/tiny.txt"
time_run "$tmp/r" "$ember" tokenize --input "$tmp/tiny.txt" --format bin16 --output "$tmp/tiny.bin"
read -r _ base_kb <"$tmp/r"
echo "# baseline: ember tokenize of 5 bytes peaks at $((base_kb / 1024)) MB RSS (LibTorch, OpenBLAS and the vocabulary loaded)"

# The >= 1 GB corpus: code.txt + mixed.txt, repeated.
cat "$bench_dir/code.txt" "$bench_dir/mixed.txt" >"$tmp/concat.txt"
while (($(stat -c %s "$tmp/big.txt" 2>/dev/null || echo 0) < big_mb * 1000000)); do
  cat "$tmp/concat.txt" >>"$tmp/big.txt"
done

echo
echo "| input | MB | threads | s | MB/s | speedup | efficiency | peak RSS MB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for input in "$bench_dir/code.txt" "$bench_dir/mixed.txt" "$tmp/big.txt"; do
  mb=$(awk -v b="$(stat -c %s "$input")" 'BEGIN {printf "%.1f", b / 1e6}')
  name="$(basename "$input")"
  [[ "$name" == big.txt ]] && name="(code+mixed) x$(( $(stat -c %s "$tmp/big.txt") / $(stat -c %s "$tmp/concat.txt") ))"
  t1=""
  for threads in 1 "$cores"; do
    # Every run starts alike: no earlier output to free, no dirty pages of the
    # run before still being written back (the kernel throttles writers while
    # it catches up: seconds of noise on a 780 MB output).
    rm -f "$tmp/out.bin"
    sync
    time_run "$tmp/r" "$ember" tokenize --input "$input" --format bin16 --output "$tmp/out.bin" --threads "$threads"
    read -r s kb <"$tmp/r"
    [[ -z "$t1" ]] && t1="$s"
    awk -v n="$name" -v mb="$mb" -v th="$threads" -v s="$s" -v t1="$t1" -v kb="$kb" 'BEGIN {
      sp = t1 / s; printf "| %s | %s | %d | %.2f | %.1f | %.2f | %.0f%% | %.0f |\n", n, mb, th, s, mb / s, sp, 100 * sp / th, kb / 1024 }'
  done
  [[ "$input" == "$tmp/big.txt" ]] && mv "$tmp/out.bin" "$tmp/big.bin"
done
rm -f "$tmp/big.txt" "$tmp/concat.txt"
if [[ "${TOKENIZE_ONLY:-0}" == 1 ]]; then
  echo
  echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

# Training: peak memory over the 1 GB token file, sampled every 20 ms.
# A small model (emb 16, batch 4 x 64), so that the data path is a visible
# share of each step: a full GPT-2 vocabulary head makes every step cost
# the same whatever feeds it.
cfg=(--config configs/debug.toml --set train.max_steps="$steps" --set train.eval_freq=1000000
  --set data.max_length=64 --set data.stride=64 --set model.context_length=64 --set data.batch_size=4
  --set train.threads=0 --set run.checkpoint_every=0)
train_sampled() {
  local name="$1"
  shift
  "$ember" train "${cfg[@]}" --set run.dir="$tmp/$name" "$@" >"$tmp/$name.log" &
  local pid=$! anon=0 file=0 a f
  while kill -0 "$pid" 2>/dev/null; do
    a=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    f=$(awk '/^RssFile:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    ((${a:-0} > anon)) && anon=$a
    ((${f:-0} > file)) && file=$f
    sleep 0.02
  done
  wait "$pid"
  local tps
  tps=$(sed -n 's/^done: .* s, \([0-9]*\) tokens\/s this session.*/\1/p' "$tmp/$name.log")
  echo "$name $tps $anon $file"
}
echo
echo "| training run ($steps steps, batch 4 x 64, emb 16, all cores) | data | tokens/s | peak RssAnon MB | peak RssFile MB |"
echo "|---|---|---:|---:|---:|"
read -r _ tps anon file < <(train_sampled big --set data.path="$tmp/big.bin")
echo "| token file, memory-mapped | $(( $(stat -c %s "$tmp/big.bin") / 1000000 )) MB bin16 (from >= 1 GB text) | $tps | $((anon / 1024)) | $((file / 1024)) |"
rm -f "$tmp/big.bin"
"$ember" tokenize --input "$bench_dir/mixed.txt" --format bin16 --output "$tmp/mixed.bin" --allowed-special '<|endoftext|>'
"$ember" tokenize --input "$bench_dir/code.txt" --format bin16 --output "$tmp/code.bin" --allowed-special '<|endoftext|>'
for rep in 1 2 3; do
  read -r _ tps_t anon_t file_t < <(train_sampled text$rep --set data.train_path="$bench_dir/mixed.txt" --set data.val_path="$bench_dir/code.txt")
  read -r _ tps_b anon_b file_b < <(train_sampled bins$rep --set data.train_path="$tmp/mixed.bin" --set data.val_path="$tmp/code.bin")
  echo "| in-memory ids (text files), run $rep | mixed.txt / code.txt | $tps_t | $((anon_t / 1024)) | $((file_t / 1024)) |"
  echo "| token files, memory-mapped, run $rep | mixed.bin / code.bin | $tps_b | $((anon_b / 1024)) | $((file_b / 1024)) |"
done
if diff <(sed -n 's/^ep \(.*\) | tokens seen.*/\1/p' "$tmp/text1.log") \
  <(sed -n 's/^ep \(.*\) | tokens seen.*/\1/p' "$tmp/bins1.log") >/dev/null; then
  echo "(the same losses from the texts and from the token files)"
fi

echo
echo "| window serving (batch 8 x 256, shuffled, 1 thread, mixed.bin) | tokens | windows | batches/s | tokens/s |"
echo "|---|---:|---:|---:|---:|"
"$PWD/$build/bench/window_bench" --token-file "$tmp/mixed.bin" --stride 1 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    cells = [r["source"] + ", stride 1", str(r["tokens"]), str(r["windows"]),
             format(r["batches_per_s"], ",.0f"), format(r["tokens_per_s"], ",.0f")]
    print("| " + " | ".join(cells) + " |")'
echo
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

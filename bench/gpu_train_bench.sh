#!/usr/bin/env bash
# GPT-2 small training on one GPU against the book's speed ladder (issue 25):
# the book's ch05/10_llm-training-speed scripts 00_orig.py (the chapter-5
# code, fp32, batch 8) and 01_opt_single_gpu.py (TF32, fused AdamW, bf16
# weights, FlashAttention, torch.compile, vocabulary 50,304, batch 32), run
# UNMODIFIED with the machine's PyTorch, against `ember train` in fp32 (TF32
# products) and bf16 (autocast) at batch 8 and at BIG_BATCH, all with
# context 1024, stride 1024, dropout 0.1, AdamW lr 5e-4, weight decay 0.1,
# 15 epochs over a 90/10 split of the same text, an evaluation of one batch
# of each split every 15 steps (batch 8: 00_orig's) or 10 (BIG_BATCH:
# 01_opt's) and a 50-token sample after each epoch, as the scripts do.
# ember runs with model.attention "fused", model.vocab_pad_to 64 and
# train.tf32 on.
#
# The scripts are not in this repository (read, never copied): BOOK_DIR is
# a folder holding them (bench/README.md says how to get them). The GPU
# machine has no network, so each script runs in a scratch folder holding
# middlemarch.txt (a slice of a local corpus; the scripts download
# Middlemarch only when the file is absent) through
# bench/gpu_book_runner.py, which stands in for tiktoken (ember tokenize /
# ember decode), for matplotlib and requests where they are missing, and
# prints torch's peak memory after the script.
#
# The scripts' epochs are fixed (15), so the slice's size sets a run's
# length: BYTES for the batch-8 rows (00_orig, ember at batch 8; default
# about 55,600 tokens: 6 steps an epoch, 90 steps, ~1 minute at the book's
# 12.5k tokens/s on an A100), BIG_BYTES for the BIG_BATCH rows (01_opt,
# ember at BIG_BATCH; default about 349,000 tokens: 9 steps of 32 an epoch,
# 135 steps, ~31 s at the book's 142k tokens/s, plus torch.compile's
# compiles). Each row prints its plan (tokens, windows, steps).
#
# Measured per row (bench/lib/gpu_train_table.py): tokens/s after warm-up
# (first interval left out; median of the interval rates, and the book's
# last "Avg tok/sec"), ratios to 00_orig and 01_opt, peak GPU memory
# (nvidia-smi polled for every row alike; for the book's rows also
# torch.cuda.max_memory_allocated / reserved), MFU (6 N + 12 L T D FLOPs per
# token against the card's dense bf16 or TF32 peak), the final losses.
#
#   BOOK_DIR=DIR bash bench/gpu_train_bench.sh [ember-binary]
# ember-binary: default build-cuda/ember (scripts/gpu-check.sh builds it),
#   else build/ember.
# Environment:
#   BOOK_DIR     folder with 00_orig.py and 01_opt_single_gpu.py (needed for
#                the rows orig and opt)
#   ROWS         rows to run (default "orig opt ember-fp32 ember-bf16"); the
#                ember rows run at batch 8 and at each BIG_BATCH, orig at its
#                batch 8 and opt at its 32 only (the scripts fix them)
#   BIG_BATCH    the ember rows' larger batches (default 32, 01_opt's; a list
#                such as "32 64" for the largest power of two that fits)
#   BYTES        bytes of the batch-8 slice (default 170000), BIG_BYTES of
#                the BIG_BATCH slice (default 1000000); each cut back to a line end
#   CORPUS       text to slice (default $EMBER_DATA_DIR/bench/mixed.txt, else
#                ../shared/data/bench/mixed.txt beside the repository, else
#                shared/data/bench/mixed.txt inside it)
#   PY           Python with a CUDA PyTorch (default: python3, then
#                /usr/bin/python3, the first whose torch sees a GPU)
#   PEAK_TFLOPS  BF16[,TF32] dense peaks of the card (default: by its name)
#   EMBER_SETS   extra `ember train --set` values for the ember rows, space-separated
#                (e.g. "data.num_workers=2")
#   ROW_TIMEOUT  seconds one row may run (default 240); BUDGET_S: no row
#                starts after this many seconds of the bench, and a row
#                runs no longer than what is left (default 480)
#   POLL_S       nvidia-smi polling interval (default 0.5)
#   KEEP         folder to copy the logs, configs, metrics and samples to
#                (never the checkpoints); with OUT set, the table goes to
#                $OUT/gpu_train_bench.md and the logs to $OUT/gpu_train_logs.tar.gz
#   DRY_RUN=1    no GPU needed: makes the slices, plans and configs, checks
#                the tiktoken stand-in against `ember tokenize` on the slice,
#                checks the ember configs (`ember batches`, which reads and
#                checks a config and its data, and one CPU step of a 1-block
#                model at batch 8) and prints the commands of every row;
#                SMOKE_S=N also runs 00_orig.py for N seconds on this machine
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"  # paths in arguments stay relative to the caller's cwd
say() { printf '[gpu_train_bench] %s\n' "$*"; }
die() {
  echo "gpu_train_bench: $*" >&2
  exit 2
}
dry="${DRY_RUN:-0}"
ember="${1:-}"
if [[ -z "$ember" ]]; then
  for cand in build-cuda/ember build/ember; do
    [[ -x "$root/$cand" ]] && { ember="$root/$cand"; break; }
  done
fi
[[ -n "$ember" && -x "$ember" ]] ||
  die "no ember binary (looked for build-cuda/ember, build/ember); build it (bash scripts/gpu-check.sh on the GPU machine) or pass its path"
ember="$(cd "$(dirname "$ember")" && pwd)/$(basename "$ember")"
rows_sel=" ${ROWS:-orig opt ember-fp32 ember-bf16} "
for r in $rows_sel; do
  case "$r" in orig | opt | ember-fp32 | ember-bf16) ;; *) die "ROWS: unknown row '$r' (expected some of: orig opt ember-fp32 ember-bf16)" ;; esac
done
sel() { [[ "$rows_sel" == *" $1 "* ]]; }
read -r -a big_batches <<<"${BIG_BATCH:-32}"
for b in "${big_batches[@]}"; do
  [[ "$b" =~ ^[1-9][0-9]*$ ]] || die "BIG_BATCH: batch sizes, space-separated (got '${BIG_BATCH}')"
done
bytes="${BYTES:-170000}" big_bytes="${BIG_BYTES:-1000000}"
[[ "$bytes" =~ ^[0-9]+$ && "$big_bytes" =~ ^[0-9]+$ ]] || die "BYTES and BIG_BYTES: byte counts (got '$bytes', '$big_bytes')"
row_timeout="${ROW_TIMEOUT:-240}" budget="${BUDGET_S:-480}" poll_s="${POLL_S:-0.5}"
read -r -a ember_sets <<<"${EMBER_SETS:-}"
runner="$root/bench/gpu_book_runner.py"

# --- the book's scripts ----------------------------------------------------------------------
declare -A script=([orig]=00_orig.py [opt]=01_opt_single_gpu.py)
for r in orig opt; do
  sel "$r" || continue
  [[ -n "${BOOK_DIR:-}" ]] || die "BOOK_DIR is not set: a folder holding the book's ${script[$r]} (rasbt/LLMs-from-scratch, ch05/10_llm-training-speed; bench/README.md says how to get it), or leave row $r out of ROWS"
  [[ -f "$BOOK_DIR/${script[$r]}" ]] || die "BOOK_DIR=$BOOK_DIR has no ${script[$r]} (expected the book's ch05/10_llm-training-speed folder; bench/README.md)"
  script[$r]="$(cd "$BOOK_DIR" && pwd)/${script[$r]}"
done

# --- Python with PyTorch --------------------------------------------------------------------------
py="${PY:-}"
if [[ -z "$py" ]]; then
  for cand in python3 /usr/bin/python3; do
    command -v "$cand" >/dev/null || continue
    if "$cand" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
      py="$(command -v "$cand")"
      break
    fi
    [[ "$dry" == 1 && -z "$py" ]] && "$cand" -c 'import torch' 2>/dev/null && py="$(command -v "$cand")"
  done
fi
[[ -n "$py" ]] || die "no Python whose PyTorch sees a GPU (tried python3, /usr/bin/python3); set PY, or DRY_RUN=1 to check the setup without a GPU"
if [[ "$dry" != 1 ]]; then
  command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this bench needs a GPU (DRY_RUN=1 checks the setup without one)"
fi

# --- corpus and slices ------------------------------------------------------------------------------
corpus="${CORPUS:-}"
if [[ -z "$corpus" ]]; then
  for cand in ${EMBER_DATA_DIR:+"$EMBER_DATA_DIR/bench/mixed.txt"} "$root/../shared/data/bench/mixed.txt" \
    "$root/shared/data/bench/mixed.txt"; do
    [[ -f "$cand" ]] && { corpus="$cand"; break; }
  done
fi
[[ -n "$corpus" && -f "$corpus" ]] ||
  die "no corpus: set CORPUS to a UTF-8 text (default mixed.txt from \$EMBER_DATA_DIR/bench or ../shared/data/bench)"

w="$(mktemp -d)"
finish() {
  find "$w" -name checkpoint.pt -delete 2>/dev/null || true
  if [[ -n "${KEEP:-}" ]]; then mkdir -p "$KEEP" && cp -r "$w/." "$KEEP/"; fi
  if [[ -n "${OUT:-}" && -d "${OUT}" ]]; then tar czf "$OUT/gpu_train_logs.tar.gz" --exclude=middlemarch.txt -C "$w" . 2>/dev/null || true; fi
  rm -rf "$w"
}
trap finish EXIT
slice() { # slice BYTES FILE: the corpus's first BYTES bytes, back to the last line end
  "$py" -c 'import sys
d = open(sys.argv[1], "rb").read(int(sys.argv[2]))
d = d[:d.rfind(b"\n") + 1]
d.decode("utf-8")
open(sys.argv[3], "wb").write(d)' "$corpus" "$1" "$2"
  [[ -s "$2" ]] || die "the first $1 bytes of $corpus hold no whole line"
}
slice "$bytes" "$w/small.txt"
slice "$big_bytes" "$w/big.txt"

# --- the machine -----------------------------------------------------------------------------------
{
  if [[ "$dry" == 1 ]]; then
    echo "gpu: none (DRY_RUN=1)"
  else
    echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1), $(nvidia-smi -L | wc -l) visible"
  fi
  echo "torch: $("$py" -c 'import sys, torch; print(torch.__version__, "CUDA", torch.version.cuda, "Python", sys.version.split()[0])') ($py)"
  echo "ember: $("$ember" --version) ($ember)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "corpus: $corpus"
} >"$w/machine.txt"
cat "$w/machine.txt"

# The rows: id, label, kind, precision, batch, eval_freq, slice.
declare -a row_ids=()
declare -A r_label r_kind r_prec r_batch r_freq r_slice
add_row() {
  row_ids+=("$1")
  r_label[$1]="$2" r_kind[$1]="$3" r_prec[$1]="$4" r_batch[$1]="$5" r_freq[$1]="$6" r_slice[$1]="$7"
}
declare -A prec_label=([bf16]="bf16 (autocast)" [fp32]="fp32 (TF32)")
sel orig && add_row orig "book 00_orig.py" book "fp32 (no TF32)" 8 15 small
for p in bf16 fp32; do
  sel "ember-$p" && add_row "ember-$p-b8" "ember train" ember "$p" 8 15 small
done
sel opt && add_row opt "book 01_opt_single_gpu.py" book "bf16 weights" 32 10 big
for b in "${big_batches[@]}"; do
  [[ "$b" == 8 ]] && continue
  for p in bf16 fp32; do
    sel "ember-$p" && add_row "ember-$p-b$b" "ember train" ember "$p" "$b" 10 big
  done
done
((${#row_ids[@]} > 0)) || die "ROWS selects no row"

# Plans: what 15 epochs of each slice are at each row's batch.
declare -A planned=()
for id in "${row_ids[@]}"; do
  key="${r_slice[$id]}-${r_batch[$id]}-${r_freq[$id]}"
  [[ -n "${planned[$key]:-}" ]] && continue
  planned[$key]=1
  "$py" "$runner" plan "$ember" "$w/${r_slice[$id]}.txt" "${r_batch[$id]}" "${r_freq[$id]}" >"$w/plan-$key.txt" ||
    { cat "$w/plan-$key.txt"; die "slice ${r_slice[$id]} is too short for batch ${r_batch[$id]}: raise BYTES/BIG_BYTES"; }
  grep -v '^plan-json' "$w/plan-$key.txt" | sed "s/^/${r_slice[$id]} slice, /"
  echo "slice ${r_slice[$id]}, batch ${r_batch[$id]}: $(grep '^plan:' "$w/plan-$key.txt" | head -1 | cut -c7-)" >>"$w/machine.txt"
done

# --- the ember configs ----------------------------------------------------------------------------
write_config() { # write_config ID
  local id="$1"
  cat >"$w/$id.toml" <<EOF
# bench/gpu_train_bench.sh: ${r_label[$id]} ${r_prec[$id]}, batch ${r_batch[$id]} (the settings of the book's speed scripts)
[data]
path = "$w/${r_slice[$id]}.txt"
train_ratio = 0.90
max_length = 1024
stride = 1024
batch_size = ${r_batch[$id]}
shuffle = true
drop_last = true

[model]
preset = "gpt2-small"
context_length = 1024
drop_rate = 0.1
qkv_bias = false
attention = "fused"
vocab_pad_to = 64

[train]
seed = 123
epochs = 15
lr = 5e-4
weight_decay = 0.1
eval_freq = ${r_freq[$id]}
eval_iter = 1
sample_prompt = "Every effort moves you"
sample_tokens = 50
device = "cuda"
precision = "${r_prec[$id]}"
tf32 = true

[run]
dir = "$w/$id"
EOF
}
sets_args() { local s; for s in "${ember_sets[@]}"; do printf -- '--set\n%s\n' "$s"; done; }
mapfile -t extra < <(sets_args)
row_cmd() { # row_cmd ID: the row's command (run in $w/ID for the book's rows)
  local id="$1"
  if [[ "${r_kind[$id]}" == book ]]; then
    echo "cd $w/$id && PYTHONUNBUFFERED=1 MPLBACKEND=Agg $py $runner run $ember ${script[$id]}"
  else
    echo "$ember train --config $w/$id.toml${extra[*]:+ ${extra[*]}}"
  fi
}
for id in "${row_ids[@]}"; do
  if [[ "${r_kind[$id]}" == book ]]; then
    mkdir -p "$w/$id" && cp "$w/${r_slice[$id]}.txt" "$w/$id/middlemarch.txt"
  else
    write_config "$id"
  fi
done

# --- DRY_RUN: the checks this machine can make ------------------------------------------------
if [[ "$dry" == 1 ]]; then
  say "DRY_RUN: the tiktoken stand-in against ember on the batch-8 slice"
  "$py" "$runner" check "$ember" "$w/small.txt"
  for id in "${row_ids[@]}"; do
    [[ "${r_kind[$id]}" == ember ]] || continue
    # `ember batches --config` reads and checks the config and its data as
    # `ember train` does (device aside) and gives the loaders' batches.
    n_train=$("$ember" batches --config "$w/$id.toml" --set train.device=cpu "${extra[@]}" --split train | wc -l)
    n_val=$("$ember" batches --config "$w/$id.toml" --set train.device=cpu "${extra[@]}" --split val | wc -l)
    key="${r_slice[$id]}-${r_batch[$id]}-${r_freq[$id]}"
    plan_steps=$(sed -n 's/.*"steps_per_epoch": \([0-9]*\).*/\1/p' "$w/plan-$key.txt")
    say "$id.toml: accepted; ember's loaders: $n_train training batches an epoch (the scripts': $plan_steps), $n_val validation batches"
    [[ "$n_train" == "$plan_steps" ]] || die "$id: ember makes $n_train training batches an epoch, the book's loader $plan_steps"
  done
  for id in ember-fp32-b8 ember-bf16-b8; do
    [[ -f "$w/$id.toml" ]] || continue
    say "DRY_RUN: one CPU step of $id.toml with a 1-block, 64-wide model (train.device=cpu)"
    rc=0
    "$ember" train --config "$w/$id.toml" --set train.device=cpu --set model.n_layers=1 \
      --set model.emb_dim=64 --set model.n_heads=4 --set train.max_steps=1 "${extra[@]}" \
      --set run.dir="$w/validate-$id" >"$w/validate-$id.log" 2>&1 || rc=$?
    grep -E '^(# ember train|ep |done:|ember: error)' "$w/validate-$id.log" || true
    ((rc == 0)) || die "$id.toml: ember train refused it (rc $rc, above)"
  done
  id=""
  for i in "${row_ids[@]}"; do [[ -z "$id" && "${r_kind[$i]}" == ember ]] && id="$i"; done
  if [[ -n "$id" ]]; then
    say "DRY_RUN: $id.toml as the GPU run takes it (device cuda; a CPU build refuses that here):"
    "$ember" train --config "$w/$id.toml" "${extra[@]}" --set run.dir="$w/validate-cuda" 2>&1 | tail -1 || true
  fi
  say "DRY_RUN: the rows, in order (each under timeout, nvidia-smi polled):"
  for id in "${row_ids[@]}"; do say "  $id: $(row_cmd "$id")"; done
  if [[ -n "${SMOKE_S:-}" ]] && sel orig; then
    say "DRY_RUN: SMOKE_S=$SMOKE_S: 00_orig.py on this machine for at most $SMOKE_S s"
    rc=0
    (cd "$w/orig" && PYTHONUNBUFFERED=1 MPLBACKEND=Agg timeout -k 10 "$SMOKE_S" "$py" "$runner" run "$ember" \
      "${script[orig]}") >"$w/orig-smoke.log" 2>&1 || rc=$?
    cat "$w/orig-smoke.log"
    say "00_orig.py ended with rc $rc$( ((rc == 124)) && echo " (stopped by the timeout)")"
  fi
  say "DRY_RUN passed"
  exit 0
fi

# --- the runs -----------------------------------------------------------------------------------------
poller=""
poll_start() { # poll_start FILE: nvidia-smi samples until poll_stop
  {
    echo "B $(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)"
    while :; do
      echo "S"
      nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null | sed 's/^/A /' || true
      nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1 | sed 's/^/G /' || true
      sleep "$poll_s"
    done
  } >"$1" &
  poller=$!
}
poll_stop() {
  kill "$poller" 2>/dev/null || true
  wait "$poller" 2>/dev/null || true
}
table() {
  "$py" "$root/bench/lib/gpu_train_table.py" "$w" >"$w/table.md" 2>&1 || true
  if [[ -n "${OUT:-}" && -d "${OUT}" ]]; then cp "$w/table.md" "$OUT/gpu_train_bench.md"; fi
}
: >"$w/rows.tsv"
failed=0
for id in "${row_ids[@]}"; do
  left=$((budget - SECONDS))
  if ((left < 30)); then
    say "$id: skipped, the bench has used $SECONDS s of BUDGET_S=$budget"
    printf '%s\t%s\t%s\t%s\t%s\tskip\t0\n' "$id" "${r_label[$id]}" "${r_kind[$id]}" \
      "${prec_label[${r_prec[$id]}]:-${r_prec[$id]}}" "${r_batch[$id]}" >>"$w/rows.tsv"
    continue
  fi
  limit=$((left < row_timeout ? left : row_timeout))
  say "$id: $(row_cmd "$id") (at most $limit s)"
  poll_start "$w/$id.smi"
  t0=$SECONDS rc=0
  if [[ "${r_kind[$id]}" == book ]]; then
    (cd "$w/$id" && PYTHONUNBUFFERED=1 MPLBACKEND=Agg timeout -k 10 "$limit" "$py" "$runner" run "$ember" \
      "${script[$id]}") >"$w/$id.log" 2>&1 || rc=$?
  else
    timeout -k 10 "$limit" "$ember" train --config "$w/$id.toml" "${extra[@]}" >"$w/$id.log" 2>&1 || rc=$?
    rm -f "$w/$id/checkpoint.pt"
  fi
  poll_stop
  ((rc == 0)) || failed=1
  say "$id: rc $rc, $((SECONDS - t0)) s; $(grep -E 'Avg tok/sec|^done:|^ember: error|Error' "$w/$id.log" | tail -1)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "${r_label[$id]}" "${r_kind[$id]}" \
    "${prec_label[${r_prec[$id]}]:-${r_prec[$id]}}" "${r_batch[$id]}" "$rc" "$((SECONDS - t0))" >>"$w/rows.tsv"
  table
done
echo
cat "$w/table.md"
exit "$failed"

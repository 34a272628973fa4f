#!/usr/bin/env bash
# GPT-2 small training: `ember train` against the book's chapter-5 loop in
# PyTorch (tests/reference/train_reference.py, the program the parity tests
# check) on configs/gpt2-small-verdict.toml (context 256, batch 2, dropout
# 0.1), same threads, machine and run. Prints a markdown table: tokens/s
# (tokens trained / the session's loop time, evaluations included, both
# sides measured the same way), the ratio, peak RSS of each process
# (/usr/bin/time), and MFU against the sgemm peak measured in this run;
# then the loss parity of every evaluation (target: within 1e-3 over the
# first 11 steps).
# PRECISION=bf16 adds a bf16 row on each side: ember's train.precision
# "bf16" and the book's loop with its forward under torch.autocast("cpu",
# dtype=torch.bfloat16) (train_reference.py); the table then gives each row
# against PyTorch fp32 and PyTorch bf16, the MFU against the sgemm peak and
# the bf16 matmul peak (oneDNN) measured in the run, and the bf16 losses
# against fp32's (target: within 2%) and PyTorch's bf16 (target: 1%).
#
# FLOPs per trained token (PaLM's count): 6 N + 12 L T D, N = parameters
# that take part in matmuls (every parameter but the token and positional
# tables), L layers, T = max_length, D = emb_dim. Evaluation forwards are
# not counted, so the MFU is a lower bound.
#
#   bash bench/gpt2_train_bench.sh [ember-binary]
# Environment: CONFIG (default configs/gpt2-small-verdict.toml), THREADS
#   (default 2), STEPS (optimizer steps, default 11; 0 = the whole config),
#   EVAL_FREQ (default: the config's 5; a large value leaves one evaluation,
#   after step 1, so the figures are mostly training), BATCH (default: the
#   config's 2), PRECISION (fp32, default, or bf16: both), KEEP (a folder
#   to copy the runs' logs and outputs to)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
config="${CONFIG:-configs/gpt2-small-verdict.toml}"
threads="${THREADS:-2}"
steps="${STEPS:-11}"
precisions=(fp32)
case "${PRECISION:-fp32}" in
  fp32) ;;
  bf16) precisions+=(bf16) ;;
  *) echo "PRECISION: fp32 or bf16 (got ${PRECISION})" >&2; exit 2 ;;
esac
sets=(--set train.threads="$threads" --set train.device=cpu --set train.max_steps="$steps")
[[ -n "${EVAL_FREQ:-}" ]] && sets+=(--set train.eval_freq="$EVAL_FREQ")
[[ -n "${BATCH:-}" ]] && sets+=(--set data.batch_size="$BATCH")
py=/usr/bin/python3
cd "$root"
source "$root/bench/lib/machine.sh"
bench_workdir
print_cpu "$threads"

for p in "${precisions[@]}"; do
  /usr/bin/time -f "%M" -o "$w/ember-$p.rss" "$ember" train --config "$config" "${sets[@]}" \
    --set train.precision="$p" --set run.dir="$w/ember-$p" >"$w/ember-$p.log"
  /usr/bin/time -f "%M" -o "$w/ref-$p.rss" "$py" tests/reference/train_reference.py \
    "$w/ember-$p/config.toml" "$w/ref-$p.jsonl" >"$w/ref-$p.log"
done

"$py" bench/lib/gpt2_train_table.py "$w" "$threads" \
  "$(grep -o 'done: [0-9]*' "$w/ember-fp32.log" | grep -o '[0-9]*')" "${precisions[@]}"

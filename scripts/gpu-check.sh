#!/usr/bin/env bash
# GPU check: builds ember against a CUDA LibTorch, then, each stage on its own
# (a failed stage is reported and the next one still runs):
#   cuda-vs-cpu  trains briefly on CUDA and on the CPU, same seed, dropout off:
#                losses agree within 1e-3 (configs/debug.toml: a 2-block GPT)
#   options      the same CUDA run with model.attention "fused" (FlashAttention
#                or the memory-efficient kernel on LibTorch 2.x) and
#                model.vocab_pad_to 64, against the CPU run: within 1e-3; and
#                in bf16 against CUDA fp32: within 0.15 (1.6% of losses 9-11)
#   throughput   CUDA tokens/s on configs/verdict.toml and on the book's GPT-2
#                small run (configs/gpt2-small-verdict.toml, 11 steps)
#   nccl-1       one rank under torchrun with backend nccl equals the plain run
#                (the NCCL process group, broadcast and gradient all-reduce on
#                a real GPU)
#   nccl-2       with 2+ GPUs: 2 ranks x batch b equal 1 process x batch 2b
#   cuda-cases   builds the unit tests and runs their [cuda] cases (the
#                embedding and the loader on CUDA, AdamW's CUDA parameters
#                through ATen's fused kernel within 1e-6 of PyTorch's AdamW);
#                none may skip
#   tests        the whole CTest suite; a skip that tests/allowed_skips.txt does
#                not allow on a GPU machine fails it (scripts/check_skips.sh)
# and ends with a summary (PASS, SKIP with its reason above it, or FAIL); the
# exit status is 1 when any stage failed.
#
#   bash scripts/gpu-check.sh
# Environment:
#   TORCH_PREFIX  CMake prefix of a CUDA LibTorch; default: the one inside the
#                 first Python (python3 on PATH, then /usr/bin/python3) whose
#                 torch sees a GPU (torch.utils.cmake_prefix_path)
#   CMAKE_PREFIX_PATH  where CMake also looks for fmt, CLI11, toml++, ... (for
#                 machines without the Debian packages of scripts/setup.sh);
#                 default: .gpudeps/root/usr when scripts/gpu-deps.sh made it
#                 (then also on LD_LIBRARY_PATH)
#   OUT           when set, the log is written to $OUT/gpu-check.log
#   BUILD         build folder (default build-cuda)
#   STAGES        stages to run (default: all of the above)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${BUILD:-build-cuda}"
[[ "$build" == /* ]] || build="$root/$build"
logdir="${OUT:-$build}"
mkdir -p "$logdir"
log="$logdir/gpu-check.log"
exec > >(tee "$log") 2>&1
stages="${STAGES:-cuda-vs-cpu options throughput nccl-1 nccl-2 cuda-cases tests}"
say() { printf '[gpu-check] %s\n' "$*"; }
die() {
  say "FAILED: $*"
  exit 1
}
declare -a summary=()
failed=0
stage() { # stage NAME FUNCTION: runs FUNCTION when NAME is selected
  local name="$1" t0=$SECONDS
  [[ " $stages " == *" $name "* ]] || return 0
  say "--- $name"
  local status=0
  "$2" || status=$?
  if ((status == 0)); then
    summary+=("PASS  $name ($((SECONDS - t0)) s)")
  elif ((status == 77)); then
    summary+=("SKIP  $name ($((SECONDS - t0)) s)")
  else
    summary+=("FAIL  $name ($((SECONDS - t0)) s)")
    failed=1
  fi
}
say "log: $log"
if [[ -z "${CMAKE_PREFIX_PATH:-}" && -d "$root/.gpudeps/root/usr" ]]; then
  export CMAKE_PREFIX_PATH="$root/.gpudeps/root/usr"
  export LD_LIBRARY_PATH="$root/.gpudeps/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "libraries from .gpudeps (scripts/gpu-deps.sh)"
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L || say "nvidia-smi not found"

# --- a CUDA LibTorch and a Python that has it ------------------------------------------
prefix="${TORCH_PREFIX:-}"
py=""
for cand in python3 /usr/bin/python3; do
  command -v "$cand" >/dev/null || continue
  if "$cand" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    py="$(command -v "$cand")"
    break
  fi
done
if [[ -z "$prefix" && -n "$py" ]]; then
  prefix="$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  say "LibTorch from $py: torch $("$py" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "cxx11_abi", torch.compiled_with_cxx11_abi())')"
fi
[[ -n "$prefix" ]] || die "no CUDA LibTorch found; set TORCH_PREFIX or install a CUDA build of PyTorch"
say "TORCH_PREFIX=$prefix"
py="${py:-python3}"

# --- build ---------------------------------------------------------------------------------
# Debian's fmt/toml++/CLI11 use the C++11 string ABI; a LibTorch built with
# _GLIBCXX_USE_CXX11_ABI=0 fails to link against them (use a cxx11-abi one).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix${CMAKE_PREFIX_PATH:+;$CMAKE_PREFIX_PATH}" \
  -DEMBER_BENCH=OFF -DEMBER_PYTHON="$py" ||
  die "cmake configure (is the CUDA toolkit installed? LibTorch's config needs it)"
t0=$SECONDS
cmake --build "$build" --parallel "$(nproc)" --target ember -- -k 0 || die "build of ember"
say "ember built in $((SECONDS - t0)) s"
[[ -f data/the-verdict.txt && -f data/gpt2/encoder.json ]] ||
  die "data/ is missing; run scripts/setup.sh first (or copy data/ here)"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
ember="$build/ember"

# Largest |a - b| of train and val losses over two metrics.jsonl files, which
# must have the same evaluations (step, epoch, tokens_seen); fails above the
# tolerance, and on a loss that is not finite (tests/cli/lib/checks.py).
compare() { # compare A B TOL LABEL
  "$py" - "$@" <<'PY'
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import compare_metrics, read_jsonl
a, b = read_jsonl(sys.argv[1]), read_jsonl(sys.argv[2])
tol, label = float(sys.argv[3]), sys.argv[4]
worst = compare_metrics(a, b, tol, label)
print(f"[gpu-check] {label}: {len(a)} evaluations, max |diff| {worst:.2e} (<= {tol:g})")
PY
}

# --- CUDA vs CPU, same seed, dropout off -----------------------------------------------------
# 1e-3: float32 reductions in another order on the GPU; no dropout, and the
# loader draws on the CPU generator on both devices; full fp32 products
# (train.tf32 = false: TF32's 10-bit inputs are not the CPU's arithmetic).
common=(--config configs/debug.toml --set model.drop_rate=0 --set train.max_steps=30
  --set train.threads=0 --set train.tf32=false)
# The CPU run the CUDA runs are compared against, trained once for both stages.
cpu_run() {
  [[ -f "$w/cpu/metrics.jsonl" ]] && return 0
  "$ember" train "${common[@]}" --set train.device=cpu --set run.dir="$w/cpu" >"$w/cpu.log" 2>&1 ||
    { tail -3 "$w/cpu.log"; return 1; }
}
cuda_vs_cpu() {
  cpu_run || return 1
  "$ember" train "${common[@]}" --set train.device=cuda --set run.dir="$w/cuda" >"$w/cuda.log" 2>&1 ||
    { tail -3 "$w/cuda.log"; return 1; }
  head -1 "$w/cuda.log"
  grep -q 'device cuda' "$w/cuda.log" || { say "the cuda run did not run on cuda"; return 1; }
  compare "$w/cpu/metrics.jsonl" "$w/cuda/metrics.jsonl" 1e-3 "cpu vs cuda"
}
stage cuda-vs-cpu cuda_vs_cpu

# --- the speed options on CUDA (issue 25) -------------------------------------------------------
# Dropout off, so the fused kernel's own dropout draws play no part.
options() {
  cpu_run || return 1
  local p
  for p in fp32 bf16; do
    "$ember" train "${common[@]}" --set train.device=cuda --set model.attention=fused \
      --set model.vocab_pad_to=64 --set train.precision=$p --set run.dir="$w/options-$p" \
      >"$w/options-$p.log" 2>&1 || { tail -3 "$w/options-$p.log"; return 1; }
    head -1 "$w/options-$p.log"
  done
  compare "$w/cpu/metrics.jsonl" "$w/options-fp32/metrics.jsonl" 1e-3 "cpu vs cuda fused+padded" &&
    compare "$w/options-fp32/metrics.jsonl" "$w/options-bf16/metrics.jsonl" 0.15 \
      "cuda fp32 vs bf16 (absolute: 1.6% of the smallest loss, 9.2)"
}
stage options options

# --- throughput on the default model ---------------------------------------------------------
throughput() {
  local config steps
  for config_steps in verdict:31 gpt2-small-verdict:11; do
    config=${config_steps%:*} steps=${config_steps#*:}
    "$ember" train --config "configs/$config.toml" --set train.device=cuda \
      --set train.max_steps="$steps" --set run.dir="$w/$config" >"$w/$config.log" 2>&1 ||
      { tail -3 "$w/$config.log"; return 1; }
    "$py" - "$w/$config/metrics.jsonl" "$config" <<'PY' || return 1
import sys
sys.path.insert(0, "tests/cli/lib")
from checks import check, finite, read_jsonl
rows = read_jsonl(sys.argv[1])
check(rows, "no evaluations in metrics.jsonl")
r = rows[-1]
check(finite(r["train_loss"]) and finite(r["val_loss"]), f"non-finite loss: {r}")
print(f"[gpu-check] CUDA, configs/{sys.argv[2]}.toml, {r['step']} steps: "
      f"{r['tokens_seen'] / r['elapsed_s']:.0f} tokens/s (evaluations included)")
PY
  done
}
stage throughput throughput

# A failed rank's own lines (ember's one-line error, NCCL's warnings), without
# torchrun's Python traceback or C++ frames.
show_failure() {
  grep -v -e 'frame #' -e '^  File "' -e '^    ' "$1" | grep -i -m 20 -e error -e warn -e nccl
  tail -5 "$1"
}

# --- NCCL ---------------------------------------------------------------------------------------
torchrun() { "$py" -m torch.distributed.run "$@"; }
one=(--config configs/debug.toml --set model.drop_rate=0 --set train.max_steps=24
  --set train.eval_freq=4 --set train.device=cuda)
nccl_1() {
  # One rank: the process group, the weight broadcast and the bucketed
  # gradient all-reduce all run through NCCL; the result must equal the plain
  # run's (an all-reduce over one rank sums one term; averaging divides by 1).
  "$ember" train "${one[@]}" --set data.batch_size=4 --set run.dir="$w/plain" \
    >"$w/plain.log" 2>&1 || { tail -3 "$w/plain.log"; return 1; }
  torchrun --nproc_per_node 1 --master_port $((20000 + RANDOM % 20000)) --no_python \
    "$ember" train "${one[@]}" --set data.batch_size=4 --set train.backend=nccl \
    --set run.dir="$w/nccl1" >"$w/nccl1.log" 2>&1 ||
    { show_failure "$w/nccl1.log"; return 1; }
  grep -E "distributed:|all-reduce" "$w/nccl1.log" || true
  compare "$w/plain/metrics.jsonl" "$w/nccl1/metrics.jsonl" 1e-6 "nccl 1 rank vs plain"
}
stage nccl-1 nccl_1

nccl_2() {
  local ngpu
  ngpu=$(nvidia-smi -L 2>/dev/null | wc -l)
  if ((ngpu < 2)); then
    say "skipped: nccl-2: $ngpu GPU(s) visible, the 2-rank NCCL check needs 2 or more"
    return 77
  fi
  [[ -f "$w/plain/metrics.jsonl" ]] || "$ember" train "${one[@]}" --set data.batch_size=4 \
    --set run.dir="$w/plain" >"$w/plain.log" 2>&1 || return 1
  torchrun --nproc_per_node 2 --master_port $((20000 + RANDOM % 20000)) --no_python \
    "$ember" train "${one[@]}" --set data.batch_size=2 --set train.backend=nccl \
    --set run.dir="$w/nccl2" >"$w/nccl2.log" 2>&1 ||
    { show_failure "$w/nccl2.log"; return 1; }
  grep -q "backend nccl" "$w/nccl2.log" || { say "the 2-rank run did not use nccl"; return 1; }
  compare "$w/plain/metrics.jsonl" "$w/nccl2/metrics.jsonl" 1e-4 "nccl 2 ranks vs 1 process"
}
stage nccl-2 nccl_2

# --- the unit tests' [cuda] cases --------------------------------------------------------------
# Run by hand (not under CTest), a case that cannot run prints "skipped: ..."
# and passes: here that is a failure.
cuda_cases() {
  cmake --build "$build" --parallel "$(nproc)" --target ember_tests || return 1
  "$build/tests/ember_tests" "[cuda]" -w NoTests >"$w/cuda-cases.log" 2>&1
  local status=$?
  cat "$w/cuda-cases.log"
  ((status == 0)) || return 1
  if grep -q "skipped:" "$w/cuda-cases.log"; then
    say "a [cuda] case skipped on a GPU machine"
    return 1
  fi
}
stage cuda-cases cuda_cases

# --- the test suite ---------------------------------------------------------------------------
tests() {
  cmake --build "$build" --parallel "$(nproc)" || return 1
  local status=0
  ctest --test-dir "$build" --no-tests=error --output-on-failure --timeout 600 \
    -j "$(( $(nproc) / 2 ))" --output-junit ctest-junit.xml || status=1
  # Lists every skip with its reason; fails on one that tests/allowed_skips.txt
  # does not allow on a GPU machine (the [cuda] cases must run here).
  bash scripts/check_skips.sh "$build/ctest-junit.xml" gpu || status=1
  return "$status"
}
stage tests tests

say "summary:"
for s in "${summary[@]}"; do say "  $s"; done
((failed == 0)) && say "all stages passed" || say "some stages FAILED"
exit "$failed"

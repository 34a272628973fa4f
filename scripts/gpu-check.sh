#!/usr/bin/env bash
# GPU check (issue 4, section 5): builds ember against a CUDA LibTorch, runs
# the test suite, trains briefly on CUDA and on the CPU with the same seed and
# dropout off and checks the losses agree within 1e-3, then prints CUDA
# training throughput. Needs a GPU, the CUDA toolkit (LibTorch's CMake config
# looks for it) and the Debian build dependencies of scripts/setup.sh.
#
#   bash scripts/gpu-check.sh
# Environment:
#   TORCH_PREFIX  CMake prefix of a CUDA LibTorch; default: the one inside the
#                 first Python (python3 on PATH, then /usr/bin/python3) whose
#                 torch sees a GPU (torch.utils.cmake_prefix_path)
#   OUT           when set, the log is written to $OUT/gpu-check.log
#   BUILD         build folder (default build-cuda)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${BUILD:-build-cuda}"
logdir="${OUT:-$root/$build}"
mkdir -p "$logdir"
log="$logdir/gpu-check.log"
exec > >(tee "$log") 2>&1
say() { printf '[gpu-check] %s\n' "$*"; }
die() {
  say "FAILED: $*"
  exit 1
}
say "log: $log"
command -v nvidia-smi >/dev/null && nvidia-smi -L || say "nvidia-smi not found"

# --- 1. a CUDA LibTorch --------------------------------------------------------
prefix="${TORCH_PREFIX:-}"
if [[ -z "$prefix" ]]; then
  for py in python3 /usr/bin/python3; do
    command -v "$py" >/dev/null || continue
    if "$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
      prefix="$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
      say "LibTorch from $py: torch $("$py" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "cxx11_abi", torch.compiled_with_cxx11_abi())')"
      break
    fi
  done
fi
[[ -n "$prefix" ]] || die "no CUDA LibTorch found; set TORCH_PREFIX or install a CUDA build of PyTorch"
say "TORCH_PREFIX=$prefix"

# --- 2. build and test -------------------------------------------------------------
# Note: Debian's fmt/toml++/CLI11 use the C++11 string ABI; a LibTorch built
# with _GLIBCXX_USE_CXX11_ABI=0 fails to link against them (use a cxx11-abi
# LibTorch then).
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DEMBER_BENCH=OFF ||
  die "cmake configure (is the CUDA toolkit installed? LibTorch's config needs it)"
cmake --build "$build" --parallel "$(nproc)" || die "build"
[[ -f data/the-verdict.txt && -f data/gpt2/encoder.json ]] ||
  die "data/ is missing; run scripts/setup.sh first (or copy data/ here)"
ctest --test-dir "$build" --output-on-failure --timeout 900 -j 4 || die "test suite"
say "test suite passed"

# --- 3. CUDA vs CPU, same seed, dropout off ------------------------------------------
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
common=(--config configs/debug.toml --set model.drop_rate=0 --set train.max_steps=30
  --set train.threads=0)
"$build/ember" train "${common[@]}" --set train.device=cpu --set run.dir="$w/cpu" >"$w/cpu.log" || die "cpu run"
"$build/ember" train "${common[@]}" --set train.device=cuda --set run.dir="$w/cuda" >"$w/cuda.log" || die "cuda run"
grep -q 'device cuda' "$w/cuda.log" || die "the cuda run did not run on cuda: $(head -1 "$w/cuda.log")"
python3 - "$w/cpu/metrics.jsonl" "$w/cuda/metrics.jsonl" <<'PY' || die "CUDA losses differ from CPU losses"
import json, sys
cpu = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
gpu = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert len(cpu) == len(gpu) > 0
worst = 0.0
for a, b in zip(cpu, gpu):
    assert a["tokens_seen"] == b["tokens_seen"]
    for k in ("train_loss", "val_loss"):
        worst = max(worst, abs(a[k] - b[k]))
# 1e-3: cuBLAS/TF32-free float32 reductions in another order; no dropout,
# and the loader draws on the CPU generator on both devices.
assert worst <= 1e-3, f"max |cpu - cuda| loss diff {worst:.2e}"
print(f"[gpu-check] cpu vs cuda: {len(cpu)} evaluations, max |diff| {worst:.2e} (<= 1e-3)")
PY

# --- 4. throughput on the default config ---------------------------------------------
"$build/ember" train --config configs/verdict.toml --set train.device=cuda \
  --set train.max_steps=31 --set run.dir="$w/verdict" >"$w/verdict.log" || die "verdict run"
python3 - "$w/verdict/metrics.jsonl" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
print(f"[gpu-check] CUDA, configs/verdict.toml, {r['step']} steps: "
      f"{r['tokens_seen'] / r['elapsed_s']:.0f} tokens/s (evaluations included)")
PY
# --- 5. NCCL: 2 ranks on 2 GPUs equal 1 process with the doubled batch ----------------
ngpu=$(nvidia-smi -L 2>/dev/null | wc -l)
if ((ngpu > 1)); then
  one=(--config configs/debug.toml --set model.drop_rate=0 --set train.max_steps=24
    --set train.eval_freq=4 --set train.device=cuda)
  "$build/ember" train "${one[@]}" --set data.batch_size=4 --set run.dir="$w/nccl1" \
    >"$w/nccl1.log" || die "nccl reference run"
  torchrun --redirects 1 --tee 1 --no_python --nproc_per_node 2 \
    --master_port $((20000 + RANDOM % 20000)) "$build/ember" train "${one[@]}" \
    --set data.batch_size=2 --set train.backend=nccl --set run.dir="$w/nccl2" \
    >"$w/nccl2.log" 2>&1 || die "nccl run: $(tail -3 "$w/nccl2.log")"
  grep -q "backend nccl" "$w/nccl2.log" || die "the 2-rank run did not use nccl"
  python3 - "$w/nccl1/metrics.jsonl" "$w/nccl2/metrics.jsonl" <<'PY' || die "NCCL losses differ"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
b = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
assert len(a) == len(b) > 0
worst = max(abs(x[k] - y[k]) for x, y in zip(a, b) for k in ("train_loss", "val_loss"))
assert worst <= 1e-4, worst
print(f"[gpu-check] nccl 2 ranks vs 1 process: {len(a)} evaluations, max |diff| {worst:.2e}")
PY
  grep "all-reduce wait" "$w/nccl2.log" || true
else
  say "NCCL check skipped: $ngpu GPU(s) visible, it needs 2 or more"
fi

say "all checks passed"

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
#   after step 1, so the figures are mostly training), KEEP (a folder to
#   copy both runs' logs and outputs to)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
config="${CONFIG:-configs/gpt2-small-verdict.toml}"
threads="${THREADS:-2}"
steps="${STEPS:-11}"
sets=(--set train.threads="$threads" --set train.device=cpu --set train.max_steps="$steps")
[[ -n "${EVAL_FREQ:-}" ]] && sets+=(--set train.eval_freq="$EVAL_FREQ")
py=/usr/bin/python3
cd "$root"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT

/usr/bin/time -f "%M" -o "$w/ember.rss" "$ember" train --config "$config" "${sets[@]}" \
  --set run.dir="$w/ember" >"$w/ember.log"
/usr/bin/time -f "%M" -o "$w/ref.rss" "$py" tests/reference/train_reference.py \
  "$w/ember/config.toml" "$w/ref.jsonl" >"$w/ref.log"

"$py" - "$w" "$threads" "$(grep -o 'done: [0-9]*' "$w/ember.log" | grep -o '[0-9]*')" <<'PY'
import json, sys, time, tomllib
import torch
w, threads = sys.argv[1], int(sys.argv[2])
cfg = tomllib.load(open(f"{w}/ember/config.toml", "rb"))
read = lambda p: [json.loads(l) for l in open(p) if l.strip()]
ours, ref = read(f"{w}/ember/metrics.jsonl"), read(f"{w}/ref.jsonl")
rss = {k: int(open(f"{w}/{k}.rss").read().split()[-1]) / 1024 for k in ("ember", "ref")}
# Loop time of the whole session from each side's last line (evaluations
# included on both): "done: 11 steps, 5632 tokens seen; 60.7 s, ..." and
# "reference: 11 steps, 5632 tokens, 111.10 s, ...".
def loop_s(log, word):
    line = [l for l in open(log) if l.startswith(word)][-1]
    return float(line.split(";")[1].split()[0] if word == "done:" else line.split(",")[2].split()[0])
loop = {"ember": loop_s(f"{w}/ember.log", "done:"), "ref": loop_s(f"{w}/ref.log", "reference:")}
torch.set_num_threads(threads)
m, d = cfg["model"], cfg["data"]
D, V, L, C, T = m["emb_dim"], m["vocab_size"], m["n_layers"], m["context_length"], d["max_length"]
N = d["batch_size"] * T

def gflops(a_rows, k, n, reps=5):
    a, b = torch.randn(a_rows, k), torch.randn(k, n)
    torch.mm(a, b)
    t = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * a_rows * k * n * reps / (time.perf_counter() - t) / 1e9

# The shapes GPT-2 small multiplies (out_head, the feed-forward) and a
# square one; the best is the peak.
peak = max(gflops(N, D, V), gflops(N, D, 4 * D), gflops(2048, 2048, 2048))
# Parameters in matmuls: the blocks, final norm and out_head (not tok_emb /
# pos_emb lookups).
# attention 4D^2 + D (+ 3D qkv biases), feed-forward 8D^2 + 5D, norms 4D
block = 12 * D * D + 10 * D + (3 * D if m["qkv_bias"] else 0)
matmul_params = L * block + 2 * D + (0 if m["tie_weights"] else D * V)
flop_per_token = 6 * matmul_params + 12 * L * T * D
if len(ours) != len(ref) or any(a["tokens_seen"] != b["tokens_seen"] for a, b in zip(ours, ref)):
    sys.exit(f"FAIL: the runs evaluated at different points ({len(ours)} vs {len(ref)} rows)")
print(f"config: GPT-2 small (L {L}, D {D}, V {V}), "
      f"T {T}, batch {d['batch_size']}, dropout {m['drop_rate']}, {threads} threads, "
      f"{sys.argv[3]} steps, {len(ours)} evaluations; sgemm peak {peak:.1f} GFLOP/s; "
      f"{flop_per_token / 1e9:.3f} GFLOP per trained token")
print()
print("| loop | tokens seen | loop time (s) | tokens/s | vs PyTorch | peak RSS (MiB) | MFU |")
print("|---|---|---|---|---|---|---|")
tokens = int(sys.argv[3]) * N
base = tokens / loop["ref"]
for name, key in (("PyTorch 1.13, the book's loop", "ref"), ("ember train", "ember")):
    tps = tokens / loop[key]
    print(f"| {name} | {tokens} | {loop[key]:.1f} | {tps:.1f} | {tps / base:.2f}x | "
          f"{rss[key]:.0f} | {100 * tps * flop_per_token / (peak * 1e9):.0f}% |")
print()
print("| step | ember train / val | PyTorch train / val | max abs diff |")
print("|---|---|---|---|")
worst = 0.0
for a, b in zip(ours, ref):
    diff = max(abs(a[k] - b[k]) for k in ("train_loss", "val_loss"))
    worst = max(worst, diff)
    print(f"| {a['step']} | {a['train_loss']:.6f} / {a['val_loss']:.6f} | "
          f"{b['train_loss']:.6f} / {b['val_loss']:.6f} | {diff:.1e} |")
verdict = "within" if worst <= 1e-3 else "NOT within"
print(f"\nparity: largest loss difference {worst:.1e}, {verdict} 1e-3")
PY
if [[ -n "${KEEP:-}" ]]; then
  mkdir -p "$KEEP" && cp -r "$w"/. "$KEEP"/
fi

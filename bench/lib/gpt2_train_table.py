"""gpt2_train_table.py W THREADS STEPS PRECISION...: the tables of
bench/gpt2_train_bench.sh from the runs in W (ember-P/ and ref-P.jsonl,
their logs and peak RSS, for each precision P): tokens/s of each side
(tokens trained / the session's loop time from its last line, evaluations
included on both), ratios against PyTorch fp32 (and PyTorch bf16), peak
RSS, MFU against the matmul peaks measured here, and the losses of every
evaluation against the reference's."""
import json
import sys
import time
import tomllib

import torch

from gpt_flops import flop_per_token as gpt_flop_per_token

w, threads, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
precisions = sys.argv[4:]
cfg = tomllib.load(open(f"{w}/ember-fp32/config.toml", "rb"))


def read(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def rss(name):
    return int(open(f"{w}/{name}.rss").read().split()[-1]) / 1024


def loop_s(name):
    """ "done: 11 steps, 5632 tokens seen; 60.7 s, ..." (ember) or
    "reference: 11 steps, 5632 tokens, 111.10 s, ..." (PyTorch)."""
    word = "done:" if name.startswith("ember") else "reference:"
    line = [x for x in open(f"{w}/{name}.log") if x.startswith(word)][-1]
    if word == "done:":
        return float(line.split(";")[1].split()[0])
    return float(line.split(",")[2].split()[0])


torch.set_num_threads(threads)
m, d = cfg["model"], cfg["data"]
D, V, L, T = m["emb_dim"], m["vocab_size"], m["n_layers"], d["max_length"]
N = d["batch_size"] * T


def gflops(rows, k, n, dtype, reps=5):
    a, b = torch.randn(rows, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    torch.mm(a, b)
    t = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return 2 * rows * k * n * reps / (time.perf_counter() - t) / 1e9


# The shapes GPT-2 small multiplies (out_head, the feed-forward) and a
# square one; the best is the peak, per dtype (bf16: oneDNN, AVX512-BF16 or
# AMX).
shapes = ((N, D, V), (N, D, 4 * D), (2048, 2048, 2048))
peak = {"fp32": max(gflops(*s, torch.float32) for s in shapes)}
if "bf16" in precisions:
    peak["bf16"] = max(gflops(*s, torch.bfloat16) for s in shapes)
flop_per_token = gpt_flop_per_token(L, D, T, V, m["qkv_bias"], m["tie_weights"])
runs = {p: (read(f"{w}/ember-{p}/metrics.jsonl"), read(f"{w}/ref-{p}.jsonl")) for p in precisions}
for p, (ours, ref) in runs.items():
    if len(ours) != len(ref) or any(a["tokens_seen"] != b["tokens_seen"] for a, b in zip(ours, ref)):
        sys.exit(f"FAIL: the {p} runs evaluated at different points ({len(ours)} vs {len(ref)} rows)")
peaks = "; ".join(f"{p} matmul peak {g:.1f} GFLOP/s" for p, g in peak.items())
name = "GPT-2 small" if (L, D, V) == (12, 768, 50257) else "GPT"
print(f"config: {name} (L {L}, D {D}, V {V}), T {T}, batch {d['batch_size']}, "
      f"dropout {m['drop_rate']}, {threads} threads, {steps} steps, "
      f"{len(runs['fp32'][0])} evaluations; {peaks}; {flop_per_token / 1e9:.3f} GFLOP per trained token")
print()
tokens = steps * N
tps = {f"{side}-{p}": tokens / loop_s(f"{side}-{p}") for p in precisions for side in ("ref", "ember")}
columns = ["vs PyTorch fp32"] + (["vs PyTorch bf16"] if "bf16" in precisions else [])
mfu_cols = [f"MFU ({p} peak)" for p in peak]
print("| loop | precision | tokens/s | " + " | ".join(columns) + " | peak RSS (MiB) | " + " | ".join(mfu_cols) + " |")
print("|---" * (4 + len(columns) + len(mfu_cols)) + "|")
names = {"ref": "PyTorch 1.13, the book's loop", "ember": "ember train"}
for p in precisions:
    for side in ("ref", "ember"):
        key = f"{side}-{p}"
        ratios = [tps[key] / tps["ref-fp32"]] + ([tps[key] / tps["ref-bf16"]] if len(columns) > 1 else [])
        mfus = [100 * tps[key] * flop_per_token / (g * 1e9) for g in peak.values()]
        print(f"| {names[side]} | {p} | {tps[key]:.1f} | " + " | ".join(f"{r:.2f}x" for r in ratios)
              + f" | {rss(key):.0f} | " + " | ".join(f"{x:.0f}%" for x in mfus) + " |")


def rel(a, b):
    return abs(a - b) / abs(b)


print()
header = "| step | ember fp32 train / val | PyTorch fp32 | max abs diff |"
if "bf16" in precisions:
    header += " ember bf16 | vs ember fp32 (rel) | PyTorch bf16 | vs PyTorch bf16 (rel) |"
print(header)
print("|---" * (header.count("|") - 1) + "|")
worst = {"fp32": 0.0, "bf16-fp32": 0.0, "bf16-ref": 0.0}
ours, ref = runs["fp32"]
for i, (a, b) in enumerate(zip(ours, ref)):
    keys = ("train_loss", "val_loss")
    diff = max(abs(a[k] - b[k]) for k in keys)
    worst["fp32"] = max(worst["fp32"], diff)
    row = (f"| {a['step']} | {a['train_loss']:.6f} / {a['val_loss']:.6f} | "
           f"{b['train_loss']:.6f} / {b['val_loss']:.6f} | {diff:.1e} |")
    if "bf16" in precisions:
        x, y = runs["bf16"][0][i], runs["bf16"][1][i]
        r32 = max(rel(x[k], a[k]) for k in keys)
        rref = max(rel(x[k], y[k]) for k in keys)
        worst["bf16-fp32"], worst["bf16-ref"] = max(worst["bf16-fp32"], r32), max(worst["bf16-ref"], rref)
        row += (f" {x['train_loss']:.6f} / {x['val_loss']:.6f} | {100 * r32:.2f}% | "
                f"{y['train_loss']:.6f} / {y['val_loss']:.6f} | {100 * rref:.2f}% |")
    print(row)
print(f"\nparity fp32: largest loss difference {worst['fp32']:.1e}, "
      f"{'within' if worst['fp32'] <= 1e-3 else 'NOT within'} 1e-3")
if "bf16" in precisions:
    print(f"bf16 vs ember fp32: largest relative loss difference {100 * worst['bf16-fp32']:.2f}%, "
          f"{'within' if worst['bf16-fp32'] <= 0.02 else 'NOT within'} 2%")
    print(f"bf16 vs PyTorch autocast: largest relative loss difference {100 * worst['bf16-ref']:.2f}%, "
          f"{'within' if worst['bf16-ref'] <= 0.01 else 'NOT within'} 1% (dropout {m['drop_rate']}: "
          f"the 1% target is for dropout 0)")

#!/usr/bin/env python3
"""Where a GPT-2 small training step spends its time, by kind of ATen op.

torch.profiler over a few training steps (B=2, T=256, dropout 0.1, AdamW)
of the book's GPTModel in PyTorch 1.13, twice: with the book's modules as
printed (LayerNorm and GELU as separate elementwise ops), and with ember's
op mix (the same model with ATen's fused layer_norm and gelu(tanh), the
masked scores scaled in place), which is what ember's C++ modules call. Both
run the same ATen kernels ember links, so the second column is ember's
compute by kind; ember's loop adds its own AdamW and no Python.

With PRECISION bf16 the forward and the loss run under
torch.autocast("cpu", dtype=torch.bfloat16), as train.precision = "bf16"
runs ember's.

  /usr/bin/python3 bench/gpt2_profile.py [THREADS] [STEPS] [PRECISION]
"""
import sys
import time

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, "tests/reference")
import gpt_book  # noqa: E402

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
precision = sys.argv[3] if len(sys.argv) > 3 else "fp32"
torch.set_num_threads(threads)
CFG = {"vocab_size": 50257, "context_length": 256, "emb_dim": 768, "n_heads": 12,
       "n_layers": 12, "drop_rate": 0.1, "qkv_bias": False}

KINDS = [
    ("matmul (Linear, attention, out_head)", ("mm", "addmm", "bmm", "matmul", "linear", "baddbmm")),
    ("cross-entropy", ("log_softmax", "nll_loss", "_log_softmax")),
    ("softmax (attention)", ("softmax", "_softmax")),
    ("LayerNorm", ("layer_norm", "native_layer_norm", "var", "mean", "sqrt", "var_mean")),
    ("GELU", ("gelu", "tanh", "pow")),
    ("dropout", ("dropout", "bernoulli", "bernoulli_", "native_dropout", "feature_dropout")),
    ("AdamW", ("_foreach", "lerp", "addcdiv", "addcmul", "sqrt_", "mul_", "add_", "div_")),
    ("embedding", ("embedding", "embedding_dense_backward", "index_select", "index_add")),
]


def kind(name):
    base = name.replace("aten::", "").rstrip("_").split("Backward")[0].lower()
    for label, keys in KINDS:
        if any(base == k.rstrip("_") or base.startswith(k.rstrip("_") + "_backward") for k in keys):
            return label
    return "other (copies, masks, adds, views)"


def fused(model):
    """ember's op mix on the book's model."""
    for m in model.modules():
        if isinstance(m, gpt_book.LayerNorm):
            m.forward = (lambda mod: lambda x: F.layer_norm(
                x, (x.shape[-1],), mod.scale, mod.shift, mod.eps))(m)
        if isinstance(m, gpt_book.GELU):
            m.forward = lambda x: F.gelu(x, approximate="tanh")
    return model


def profile_steps(build):
    torch.manual_seed(123)
    model = build(gpt_book.GPTModel(CFG))
    opt = torch.optim.AdamW(model.parameters(), lr=4e-4, weight_decay=0.1)
    x = torch.randint(0, 50257, (2, 256))
    y = torch.randint(0, 50257, (2, 256))

    def step():
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        loss.backward()
        opt.step()
    step()  # warm-up
    t = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    wall = (time.perf_counter() - t) / steps
    by_kind = {}
    for e in prof.key_averages():
        by_kind[kind(e.key)] = by_kind.get(kind(e.key), 0.0) + e.self_cpu_time_total / 1e6 / steps
    return wall, by_kind


book_wall, book = profile_steps(lambda m: m)
ours_wall, ours = profile_steps(fused)
print(f"GPT-2 small training step (B=2, T=256, dropout 0.1, AdamW, {precision}), {threads} threads, "
      f"mean of {steps} profiled steps; self CPU seconds per step by kind of op")
print()
print("| kind of op | book's modules (s) | share | ember's op mix (s) | share |")
print("|---|---|---|---|---|")
labels = [k for k, _ in KINDS] + ["other (copies, masks, adds, views)"]
tb, to = sum(book.values()), sum(ours.values())
for label in sorted(labels, key=lambda k: -book.get(k, 0)):
    b, o = book.get(label, 0.0), ours.get(label, 0.0)
    print(f"| {label} | {b:.2f} | {100 * b / tb:.0f}% | {o:.2f} | {100 * o / to:.0f}% |")
print(f"| **total (profiled)** | {tb:.2f} | | {to:.2f} | |")
print(f"| wall time per step (profiler on) | {book_wall:.2f} | | {ours_wall:.2f} | |")

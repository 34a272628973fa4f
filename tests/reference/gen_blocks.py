#!/usr/bin/python3
"""Writes tests/golden/transformer_blocks.txt: the book's chapter 3-4 modules
(tests/reference/gpt_book.py) built under torch.manual_seed, for the C++
module tests (tests/nn/transformer_block_test.cpp). Run with Debian's
python3-torch:

    /usr/bin/python3 tests/reference/gen_blocks.py [--out DIR]

For each case: the SHA-256 of every parameter and buffer (float32 bytes, in
named_parameters() then named_buffers() order), then the module's output on
an input drawn right after construction (torch.rand, same generator), each
value with 9 significant digits (exact float32), and the gradient of
sum(output * weights) with respect to the input and to two parameters. The
C++ test rebuilds each case under the same seed: weights bit-identical,
outputs and gradients within 1e-5.

The "gpt" cases are whole models (gpt_book.build_model from an ember [model]
table; GPTModel, its RMSNorm variant, sinusoidal with tied weights): the
SHA-256 of every parameter and buffer, then ids and targets drawn after
construction (torch.randint, written out as integers), the logits, the
book's calc_loss_batch cross-entropy and the gradient of that loss for every
parameter, in named_parameters() order.
"""
import argparse
import hashlib
import os
import sys

import torch

from gpt_book import (FeedForward, GELU, LayerNorm, MultiHeadAttention, TransformerBlock,
                      build_model)

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
TORCH = ".".join(torch.__version__.split(".")[:2])


def f32(x):
    return "%.9g" % x


def sha(t):
    return hashlib.sha256(t.detach().contiguous().numpy().tobytes()).hexdigest()


def values(name, t):
    flat = t.detach().flatten().tolist()
    shape = "x".join(str(s) for s in t.shape)
    return f"{name} {shape} " + " ".join(f32(v) for v in flat) + "\n"


# name, kind, seed, module args, input shape
CASES = [
    ("layer_norm", "layer_norm", 1, dict(emb_dim=8), (2, 3, 8)),
    ("gelu", "gelu", 2, dict(), (3, 5)),
    ("feed_forward", "feed_forward", 3, dict(emb_dim=8), (2, 3, 8)),
    ("mha_short", "mha", 123, dict(d_in=8, d_out=8, context_length=6, num_heads=2, qkv_bias=False), (2, 4, 8)),
    ("mha_qkv_bias", "mha", 7, dict(d_in=6, d_out=12, context_length=5, num_heads=3, qkv_bias=True), (1, 5, 6)),
    ("block", "block", 123, dict(emb_dim=16, context_length=8, n_heads=4, qkv_bias=False), (2, 5, 16)),
    ("block_qkv_bias", "block", 9, dict(emb_dim=12, context_length=4, n_heads=3, qkv_bias=True), (3, 4, 12)),
]

# name, seed, [model] ints (rmsnorm/sinusoidal select model.norm and
# model.pos_encoding), ids shape (B, T). Tiny, so the golden stays small.
GPT = dict(vocab_size=10, context_length=5, emb_dim=4, n_layers=2, n_heads=2, qkv_bias=False,
           tie_weights=False, rmsnorm=False, sinusoidal=False)
GPT_CASES = [
    ("gpt", 123, dict(GPT), (2, 4)),
    ("gpt_rmsnorm", 31, dict(GPT, rmsnorm=True, qkv_bias=True), (2, 5)),
    ("gpt_sinusoidal_tied", 8, dict(GPT, sinusoidal=True, tie_weights=True), (2, 3)),
]


def build(kind, a):
    if kind == "layer_norm":
        return LayerNorm(a["emb_dim"])
    if kind == "gelu":
        return GELU()
    if kind == "feed_forward":
        return FeedForward({"emb_dim": a["emb_dim"]})
    if kind == "mha":
        return MultiHeadAttention(a["d_in"], a["d_out"], a["context_length"], 0.0,
                                  a["num_heads"], a["qkv_bias"])
    return TransformerBlock({"emb_dim": a["emb_dim"], "context_length": a["context_length"],
                             "n_heads": a["n_heads"], "drop_rate": 0.0, "qkv_bias": a["qkv_bias"]})


def case(name, kind, seed, args, shape):
    torch.manual_seed(seed)
    m = build(kind, args)
    x = (torch.rand(*shape) * 4 - 2).requires_grad_(True)
    w = torch.rand(*shape[:-1], args.get("emb_dim", args.get("d_out", shape[-1])))
    out = f"case {name} {kind} seed={seed} " + " ".join(f"{k}={int(v)}" for k, v in args.items())
    out += " input=" + "x".join(str(s) for s in shape) + "\n"
    for pname, p in list(m.named_parameters()) + list(m.named_buffers()):
        out += f"tensor {pname} " + "x".join(str(s) for s in p.shape) + f" {sha(p)}\n"
    y = m(x)
    out += values("output", y)
    (y * w).sum().backward()
    out += values("grad_input", x.grad)
    params = list(m.named_parameters())
    for pname, p in params[:1] + params[-1:]:
        out += values(f"grad {pname}", p.grad)
    return out


def gpt_case(name, seed, args, shape):
    m = {k: v for k, v in args.items() if k not in ("rmsnorm", "sinusoidal")}
    m.update(drop_rate=0.0, norm="rmsnorm" if args["rmsnorm"] else "layernorm",
             pos_encoding="sinusoidal" if args["sinusoidal"] else "learned",
             attention="multihead", feed_forward="gelu")
    torch.manual_seed(seed)
    model = build_model(m)
    ids = torch.randint(0, m["vocab_size"], shape)
    targets = torch.randint(0, m["vocab_size"], shape)
    out = f"case {name} gpt seed={seed} " + " ".join(f"{k}={int(v)}" for k, v in args.items())
    out += " input=" + "x".join(str(s) for s in shape) + "\n"
    for pname, p in list(model.named_parameters()) + list(model.named_buffers()):
        out += f"tensor {pname} " + "x".join(str(s) for s in p.shape) + f" {sha(p)}\n"
    out += "ids " + "x".join(str(s) for s in shape) + " " + " ".join(map(str, ids.flatten().tolist())) + "\n"
    out += "targets " + "x".join(str(s) for s in shape) + " "
    out += " ".join(map(str, targets.flatten().tolist())) + "\n"
    logits = model(ids)
    out += values("output", logits)
    # The book's calc_loss_batch.
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
    out += values("loss", loss.reshape(1))
    loss.backward()
    for pname, p in model.named_parameters():
        out += values(f"grad {pname}", p.grad)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=GOLDEN, help="output folder")
    out_dir = parser.parse_args().out
    os.makedirs(out_dir, exist_ok=True)
    text = (f"# generated by tests/reference/gen_blocks.py (torch {TORCH}); do not edit\n"
            "# case NAME KIND seed=S ARGS input=SHAPE; tensor NAME SHAPE SHA256; "
            "output/grad_input/grad NAME SHAPE VALUES\n")
    for c in CASES:
        text += case(*c)
    for c in GPT_CASES:
        text += gpt_case(*c)
    path = os.path.join(out_dir, "transformer_blocks.txt")
    with open(path, "w") as f:
        f.write(text)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()

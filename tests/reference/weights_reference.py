#!/usr/bin/env python3
"""Weights moving between PyTorch and ember, checked on files made here (no
download): a small GPT-2-shaped model of the book's GPTModel (2 blocks,
emb_dim 64, 4 heads, GPT-2's vocabulary, qkv_bias, context 32) with random
weights under torch.manual_seed(SEED), written as

  hf.safetensors        Hugging Face's GPT-2 layout (wte, wpe, h.N.attn.c_attn
                        as Conv1D (D, 3D), the attn.bias mask buffers, ...)
  hf_prefixed_bf16.safetensors  the same with the "transformer." prefix, in BF16
  hf_f16.safetensors    the same in F16
  book.safetensors      the book's state_dict keys
  book.pth              torch.save(model.state_dict()) (when ember reads .pth)

and for each file `ember forward --weights FILE` must give PyTorch's logits
within 1e-5 (BF16, F16: the rounded model's), and `ember generate --weights`
the ids of the book's generate, greedy and seeded top-k sampling. Then
`ember export` of the loaded model: --format pth into the book's GPTModel
with load_state_dict(strict=True) (logits within 1e-5), and
--format hf-safetensors back to the same tensors as hf.safetensors.

  /usr/bin/python3 tests/reference/weights_reference.py EMBER WORKDIR [--no-pth]

Exits 77 when torch is missing, 1 with a FAIL line on a mismatch.
"""
import json
import os
import struct
import subprocess
import sys

try:
    import torch
except ModuleNotFoundError as e:
    if e.name != "torch":
        raise
    print(f"skipped: weights_reference.py: {sys.executable} has no torch ({e})", file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "cli", "lib"))
from checks import check, fail  # noqa: E402
from gpt_book import GPTModel  # noqa: E402
from generate_reference import generate  # noqa: E402

SEED = 321
CFG = {"vocab_size": 50257, "context_length": 32, "emb_dim": 64, "n_layers": 2,
       "n_heads": 4, "drop_rate": 0.1, "qkv_bias": True}
ROWS = [[15496, 11, 314, 716, 257, 3797], [6109, 3626, 6100, 345, 11, 13]]
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def write_safetensors(path, tensors):
    """The format's few lines: 8-byte LE header length, JSON, raw data."""
    header, blobs, at = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        data = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 \
            else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        dtype = {v: k for k, v in DTYPES.items()}[e["dtype"]]
        buf = bytearray(raw[8 + n + b:8 + n + end])
        out[name] = torch.frombuffer(buf, dtype=dtype).reshape(e["shape"]) if buf else \
            torch.zeros(e["shape"], dtype=dtype)
    return out


def to_hf(model):
    """The book's load_weights_into_gpt, inverted: Hugging Face's GPT-2 keys."""
    sd, hf = model.state_dict(), {}
    hf["wte.weight"], hf["wpe.weight"] = sd["tok_emb.weight"], sd["pos_emb.weight"]
    for b in range(CFG["n_layers"]):
        p, h = f"trf_blocks.{b}.", f"h.{b}."
        hf[h + "ln_1.weight"], hf[h + "ln_1.bias"] = sd[p + "norm1.scale"], sd[p + "norm1.shift"]
        hf[h + "attn.bias"] = torch.tril(torch.ones(1, 1, 32, 32))  # a mask buffer, ignored
        hf[h + "attn.c_attn.weight"] = torch.cat(
            [sd[p + f"att.{q}.weight"].T for q in ("W_query", "W_key", "W_value")], dim=1)
        hf[h + "attn.c_attn.bias"] = torch.cat(
            [sd[p + f"att.{q}.bias"] for q in ("W_query", "W_key", "W_value")])
        hf[h + "attn.c_proj.weight"] = sd[p + "att.out_proj.weight"].T
        hf[h + "attn.c_proj.bias"] = sd[p + "att.out_proj.bias"]
        hf[h + "ln_2.weight"], hf[h + "ln_2.bias"] = sd[p + "norm2.scale"], sd[p + "norm2.shift"]
        hf[h + "mlp.c_fc.weight"] = sd[p + "ff.layers.0.weight"].T
        hf[h + "mlp.c_fc.bias"] = sd[p + "ff.layers.0.bias"]
        hf[h + "mlp.c_proj.weight"] = sd[p + "ff.layers.2.weight"].T
        hf[h + "mlp.c_proj.bias"] = sd[p + "ff.layers.2.bias"]
    hf["ln_f.weight"], hf["ln_f.bias"] = sd["final_norm.scale"], sd["final_norm.shift"]
    return hf


def make_model():
    torch.manual_seed(SEED)
    model = GPTModel(CFG)
    # GPT-2 ties the head to wte: the HF file holds one matrix for both. Its
    # embeddings are initialised with std 0.02, not nn.Embedding's 1: with
    # N(0, 1) rows as the head, logits reach 15, where float32's spacing is
    # 1e-6 and a 1e-5 bound would hold only relatively.
    with torch.no_grad():
        model.tok_emb.weight.mul_(0.02)
        model.pos_emb.weight.mul_(0.02)
        model.out_head.weight.copy_(model.tok_emb.weight)
    return model.eval()


def write_config(path):
    lines = ["[data]", 'path = "unused.txt"', "max_length = 32", "", "[model]"]
    lines += [f"{k} = {json.dumps(v) if not isinstance(v, bool) else str(v).lower()}"
              for k, v in CFG.items()]
    lines += ["", "[train]", "seed = 1", "threads = 2", ""]
    open(path, "w").write("\n".join(lines))


def ember(exe, *args):
    out = subprocess.run([exe, *args], capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"ember {' '.join(args)} exited {out.returncode}: {out.stderr.strip()}")
    return out.stdout


def check_forward(exe, cfg, path, model, label):
    ids = sum([["--ids", " ".join(map(str, r))] for r in ROWS], [])
    got = torch.tensor(json.loads(ember(exe, "forward", "--config", cfg, "--weights", path,
                                        *ids))["logits"])
    with torch.no_grad():
        want = model(torch.tensor(ROWS))
    d = (got - want).abs().max().item()
    check(d <= 1e-5, f"{label}: ember forward --weights vs PyTorch: max |diff| {d:.3g} > 1e-5")
    print(f"same logits: {label} (max |diff| {d:.2e})", flush=True)


def check_generate(exe, cfg, path, model, label):
    for args in (dict(temperature=0.0, top_k=None, seed=123),
                 dict(temperature=1.5, top_k=50, seed=123)):
        torch.manual_seed(args["seed"])
        want = generate(model, torch.tensor(ROWS[:1]), 40, CFG["context_length"],
                        temperature=args["temperature"], top_k=args["top_k"])[0].tolist()
        cli = ["generate", "--config", cfg, "--weights", path, "--ids", " ".join(map(str, ROWS[0])),
               "--max-new-tokens", "40", "--format", "json", "--seed", str(args["seed"]),
               "--temperature", str(args["temperature"]), "--top-k", str(args["top_k"] or 0)]
        for extra in ([], ["--no-kv-cache"]):
            got = json.loads(ember(exe, *cli, *extra))["ids"]
            check(got == want, f"{label}: ember generate {args} {extra}: {got} vs the book's {want}")
    print(f"same ids: {label} (greedy; temperature 1.5, top-k 50; with and without the KV cache)",
          flush=True)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    exe, w, with_pth = sys.argv[1], sys.argv[2], "--no-pth" not in sys.argv
    torch.set_num_threads(2)
    cfg = os.path.join(w, "model.toml")
    write_config(cfg)
    model = make_model()
    hf = to_hf(model)
    write_safetensors(f"{w}/hf.safetensors", hf)
    write_safetensors(f"{w}/hf_prefixed_bf16.safetensors",
                      {"transformer." + k: v.to(torch.bfloat16) for k, v in hf.items()})
    write_safetensors(f"{w}/hf_f16.safetensors", {k: v.to(torch.float16) for k, v in hf.items()})
    write_safetensors(f"{w}/book.safetensors", model.state_dict())
    files = [("hf.safetensors", model), ("book.safetensors", model)]
    if with_pth:
        torch.save(model.state_dict(), f"{w}/book.pth")
        files.append(("book.pth", model))
    bf16 = make_model()
    with torch.no_grad():
        for p in bf16.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    files.append(("hf_prefixed_bf16.safetensors", bf16))
    f16 = make_model()
    with torch.no_grad():
        for p in f16.parameters():
            p.copy_(p.to(torch.float16).to(torch.float32))
    files.append(("hf_f16.safetensors", f16))
    for name, m in files:
        check_forward(exe, cfg, f"{w}/{name}", m, name)
    check_generate(exe, cfg, f"{w}/hf.safetensors", model, "hf.safetensors")
    # Export: Hugging Face's layout back, tensor for tensor.
    ember(exe, "export", "--config", cfg, "--weights", f"{w}/hf.safetensors",
          "--out", f"{w}/out_hf.safetensors", "--format", "hf-safetensors")
    back = read_safetensors(f"{w}/out_hf.safetensors")
    want = {k: v for k, v in hf.items() if not k.endswith(".attn.bias")}
    check(sorted(back) == sorted(want),
          f"hf-safetensors export: keys {sorted(set(back) ^ set(want))} differ")
    for k in want:
        check(torch.equal(back[k], want[k]), f"hf-safetensors export: '{k}' differs")
    print(f"same tensors: ember export --format hf-safetensors ({len(want)} keys)")
    if with_pth:
        ember(exe, "export", "--config", cfg, "--weights", f"{w}/hf.safetensors",
              "--out", f"{w}/out.pth", "--format", "pth")
        twin = GPTModel(CFG).eval()
        twin.load_state_dict(torch.load(f"{w}/out.pth"), strict=True)
        with torch.no_grad():
            d = (twin(torch.tensor(ROWS)) - model(torch.tensor(ROWS))).abs().max().item()
        check(d <= 1e-5, f"pth export: logits differ by {d:.3g}")
        print(f"same logits: ember export --format pth, load_state_dict(strict=True) (max |diff| {d:.2e})")
    # ember -> file -> ember: bit-identical logits, in each format.
    ids = sum([["--ids", " ".join(map(str, r))] for r in ROWS], [])
    first = ember(exe, "forward", "--config", cfg, "--weights", f"{w}/hf.safetensors", *ids)
    for fmt in ("safetensors", "hf-safetensors") + (("pth",) if with_pth else ()):
        out = f"{w}/round.{fmt}"
        ember(exe, "export", "--config", cfg, "--weights", f"{w}/hf.safetensors", "--out", out,
              "--format", fmt)
        again = ember(exe, "forward", "--config", cfg, "--weights", out, *ids)
        check(again == first, f"ember -> {fmt} -> ember: the logits changed")
    print("same bits: ember -> file -> ember logits, every export format")
    print("ok: weights move between PyTorch and ember")


if __name__ == "__main__":
    main()

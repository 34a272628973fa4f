"""The measuring half of bench/gpt2_generate_bench.sh (see there)."""
import json
import re
import subprocess
import sys
import time

import torch

sys.path.insert(0, "tests/reference")
from gpt_book import GPTModel  # noqa: E402

w, threads, new, prompt, ember = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
torch.set_num_threads(threads)
CFG = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12,
       "n_layers": 12, "drop_rate": 0.1, "qkv_bias": False}


def run_ember(*extra):
    """(ids, loop seconds, whole command seconds) of one `ember generate`."""
    t = time.perf_counter()
    out = subprocess.run([ember, "generate", "--config", f"{w}/gpt2.toml", "--ids", prompt,
                          "--max-new-tokens", str(new), "--format", "json", "--stats", *extra],
                         capture_output=True, text=True, check=True)
    whole = time.perf_counter() - t
    m = re.search(r"in ([0-9.]+) s", out.stderr)
    if not m:
        sys.exit(f"FAIL: no --stats line in ember's stderr: {out.stderr!r}")
    return json.loads(out.stdout)["ids"], float(m.group(1)), whole


def generate_text_simple(model, idx, max_new_tokens, context_size):  # the book, ch04
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]
        with torch.no_grad():
            logits = model(idx_cond)
        logits = logits[:, -1, :]
        probas = torch.softmax(logits, dim=-1)
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def read_bandwidth():
    """GB/s of summing a 1 GiB float32 tensor (best of 5) on these threads."""
    x = torch.ones(256 * 1024 * 1024)
    x.sum()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        x.sum()
        best = min(best, time.perf_counter() - t)
    return x.numel() * 4 / best / 1e9


cached_ids, cached_s, cached_whole = run_ember()
plain_ids, plain_s, plain_whole = run_ember("--no-kv-cache")
t = time.perf_counter()
torch.manual_seed(123)
model = GPTModel(CFG).eval()
build_s = time.perf_counter() - t
idx = torch.tensor([[int(x) for x in prompt.split()]])
t = time.perf_counter()
ref = generate_text_simple(model, idx, new, CFG["context_length"])[0].tolist()
ref_s = time.perf_counter() - t
bw = read_bandwidth()
# Weights a cached step reads: every parameter but the two embedding tables
# (one row each), in float32.
params = sum(p.numel() for p in model.parameters())
tables = model.tok_emb.weight.numel() + model.pos_emb.weight.numel()
step_bytes = (params - tables) * 4
same = cached_ids == plain_ids == ref

print(f"GPT-2 small (untied, {params:,} parameters), greedy, {len(idx[0])}-token prompt, "
      f"{new} new tokens, {threads} threads; same ids (KV cache, no cache, PyTorch): "
      f"{'yes' if same else 'NO'}")
print()
print("| generator | loop s | new tokens/s | vs PyTorch | outside the loop |")
print("|---|---|---|---|---|")
print(f"| PyTorch {torch.__version__.split('+')[0]}, the book's generate_text_simple | "
      f"{ref_s:.1f} | {new / ref_s:.2f} | 1.00x | {build_s:.1f} s to build the model |")
for name, s, whole in (("ember generate --no-kv-cache", plain_s, plain_whole),
                       ("ember generate (KV cache)", cached_s, cached_whole)):
    print(f"| {name} | {s:.1f} | {new / s:.2f} | {ref_s / s:.2f}x | "
          f"{whole - s:.1f} s (start-up, seeded model) |")
print()
print(f"Memory bound of a cached step: {step_bytes / 1e6:.0f} MB of float32 weights per token; "
      f"read bandwidth {bw:.1f} GB/s on {threads} threads -> at most {bw * 1e9 / step_bytes:.1f} "
      f"tokens/s; the KV cache reached {new / cached_s / (bw * 1e9 / step_bytes):.0%} of it.")
if not same:
    sys.exit("FAIL: the three generators made different ids")

#!/usr/bin/env bash
# Generation speed, GPT-2 small (a fresh model under torch.manual_seed(123):
# the speed does not depend on the weights): `ember generate` against the
# book's generate_text_simple (ch04) in PyTorch, greedy, same prompt ids,
# same threads, in one run. Prints a markdown table of new tokens/s (the
# whole command for ember, start-up and model construction included; the
# generation loop alone for PyTorch, whose construction is timed apart), and
# checks that both produce the same ids.
#
#   bash bench/gpt2_generate_bench.sh [ember-binary]
# Environment: THREADS (default 2), NEW (new tokens, default 100)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
threads="${THREADS:-2}"
new="${NEW:-100}"
py=/usr/bin/python3
cd "$root"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
cat >"$w/gpt2.toml" <<TOML
[data]
path = "the-verdict.txt"
[model]
preset = "gpt2-small"
[train]
seed = 123
threads = $threads
TOML
# "Every effort moves you" and 6 more ids of the-verdict: 10 prompt tokens.
prompt="6109 3626 6100 345 40 367 2885 1464 1807 3619"
"$py" - "$w" "$threads" "$new" "$prompt" "$ember" <<'PY'
import json, subprocess, sys, time
import torch
sys.path.insert(0, "tests/reference")
from gpt_book import GPTModel
w, threads, new, prompt, ember = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
t = time.perf_counter()
with open(f"{w}/ember.json", "w") as f:
    subprocess.run([ember, "generate", "--config", f"{w}/gpt2.toml", "--ids", prompt,
                    "--max-new-tokens", str(new), "--format", "json"], stdout=f, check=True)
ember_s = time.perf_counter() - t
torch.set_num_threads(threads)
cfg = {"vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12,
       "n_layers": 12, "drop_rate": 0.1, "qkv_bias": False}
t = time.perf_counter()
torch.manual_seed(123)
model = GPTModel(cfg).eval()
build_s = time.perf_counter() - t

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

idx = torch.tensor([[int(x) for x in prompt.split()]])
t = time.perf_counter()
out = generate_text_simple(model, idx, new, 1024)
gen_s = time.perf_counter() - t
ours = json.load(open(f"{w}/ember.json"))["ids"]
same = ours == out[0].tolist()
print(f"GPT-2 small, greedy, {len(idx[0])}-token prompt, {new} new tokens, {threads} threads; "
      f"same ids: {'yes' if same else 'NO'}")
print()
print("| generator | what is timed | seconds | new tokens/s | vs PyTorch |")
print("|---|---|---|---|---|")
print(f"| PyTorch 1.13, the book's generate_text_simple | the loop ({build_s:.1f} s to build the model not included) | {gen_s:.1f} | {new / gen_s:.1f} | 1.00x |")
print(f"| ember generate (no KV cache) | the whole command: start-up, seeded model, loop | {ember_s:.1f} | {new / ember_s:.1f} | {gen_s / ember_s:.2f}x |")
if not same:
    sys.exit("FAIL: ember and PyTorch generated different ids")
PY

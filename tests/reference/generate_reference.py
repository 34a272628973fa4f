#!/usr/bin/env python3
"""The book's text generation, on the weights of an ember run.

Loads RUN/checkpoint.pt (ember's torch::serialize archive plus a 24-byte
trailer; the payload is a TorchScript archive whose parameters are named
model.<name>), builds the book's GPTModel from the run's config
(gpt_book.build_model),
copies the weights in, then runs `generate` from the book (rasbt
LLMs-from-scratch ch05 gpt_generate.py, quoted below) after
torch.manual_seed(seed), as `ember generate` does. Prints one JSON line:
{"prompt_ids": [...], "ids": [...new ids...]} and, with --bytes FILE, writes
tiktoken's decoding of the new ids to FILE.

  /usr/bin/python3 tests/reference/generate_reference.py RUN --prompt TEXT \
      [--max-new-tokens N] [--temperature T] [--top-k K] [--seed S] [--bytes FILE]

Run it with Debian's python3-torch (torch 1.13). Exits 77 when torch is
missing, 1 on any other error.
"""
import argparse
import base64
import io
import json
import os
import subprocess
import sys

try:
    import torch
except ModuleNotFoundError as e:
    if e.name != "torch":
        raise
    print(f"skipped: generate_reference.py: {sys.executable} has no torch ({e}); "
          "apt install python3-torch", file=sys.stderr)
    sys.exit(77)
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gpt_book import build_model  # noqa: E402
from train_reference import ROOT  # noqa: E402

TRAILER = 24  # magic "EMBERCK1" (8), payload size (8), hash (8)

TIKTOKEN_JS = r"""
const fs = require('fs');
const { get_encoding } = require('tiktoken');
const req = JSON.parse(fs.readFileSync(0, 'utf8'));
const enc = get_encoding('gpt2');
const ids = Array.from(enc.encode(req.prompt, ['<|endoftext|>']));
const bytes = Buffer.from(enc.decode(new Uint32Array(req.ids)));
process.stdout.write(JSON.stringify({ ids, bytes: bytes.toString('base64') }));
enc.free();
"""


def tiktoken(prompt, ids):
    """(GPT-2 ids of prompt, bytes of decode(ids)) from Node's tiktoken."""
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "node_modules"))
    out = subprocess.run(["node", "-e", TIKTOKEN_JS],
                         input=json.dumps({"prompt": prompt, "ids": ids}).encode(),
                         capture_output=True, env=env, check=True)
    reply = json.loads(out.stdout)
    return reply["ids"], base64.b64decode(reply["bytes"])


def load_run(run_dir):
    """The run's model (eval mode) with the checkpoint's weights."""
    with open(os.path.join(run_dir, "checkpoint.pt"), "rb") as f:
        data = f.read()
    if len(data) <= TRAILER or data[-TRAILER:-TRAILER + 8] != b"EMBERCK1":
        sys.exit(f"generate_reference.py: {run_dir}/checkpoint.pt: no ember trailer")
    archive = torch.jit.load(io.BytesIO(data[:-TRAILER]))
    saved = dict(archive.named_parameters())
    config = tomllib.loads(bytes(saved["config"].tolist()).decode())
    model = build_model(config["model"])
    names = bytes(saved["model_names"].tolist()).decode().split()
    # ember's names (embedding.tok_emb.weight) -> the book's (tok_emb.weight).
    state = {n.removeprefix("embedding."): saved["model." + n].detach() for n in names}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Buffers (the sinusoidal "pe", the attention masks) are rebuilt from the
    # config; a tied out_head.weight is tok_emb.weight, loaded under that name.
    rebuilt = {n for n, _ in model.named_buffers()}
    if config["model"]["tie_weights"]:
        rebuilt.add("out_head.weight")
    if [m for m in missing if m not in rebuilt] or unexpected:
        sys.exit(f"generate_reference.py: weights do not fit the model "
                 f"(missing {missing}, unexpected {unexpected})")
    model.eval()
    return model, config


# The book, ch05 gpt_generate.py, verbatim but for the eos_id default.
def generate(model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None, eos_id=None):

    # For-loop is the same as before: Get logits, and only focus on last time step
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]
        with torch.no_grad():
            logits = model(idx_cond)
        logits = logits[:, -1, :]

        # New: Filter logits with top_k sampling
        if top_k is not None:
            # Keep only top_k values
            top_logits, _ = torch.topk(logits, top_k)
            min_val = top_logits[:, -1]
            logits = torch.where(logits < min_val, torch.tensor(float('-inf')).to(logits.device), logits)

        # New: Apply temperature scaling
        if temperature > 0.0:
            logits = logits / temperature

            # Apply softmax to get probabilities
            probs = torch.softmax(logits, dim=-1)  # (batch_size, context_len)

            # Sample from the distribution
            idx_next = torch.multinomial(probs, num_samples=1)  # (batch_size, 1)

        # Otherwise same as before: get idx of the vocab entry with the highest logits value
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)  # (batch_size, 1)

        if idx_next == eos_id:  # Stop generating early if end-of-sequence token is encountered and eos_id is specified
            break

        # Same as before: append sampled index to the running sequence
        idx = torch.cat((idx, idx_next), dim=1)  # (batch_size, num_tokens+1)

    return idx


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("--prompt", required=True)
    p.add_argument("--max-new-tokens", type=int, default=50)
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--top-k", type=int, default=0, help="0 = None (no filter)")
    p.add_argument("--seed", type=int, default=123)
    p.add_argument("--bytes", help="write tiktoken's decoding of the new ids here")
    a = p.parse_args()
    torch.set_num_threads(1)
    model, config = load_run(a.run)
    prompt_ids, _ = tiktoken(a.prompt, [])
    idx = torch.tensor([prompt_ids], dtype=torch.long)
    torch.manual_seed(a.seed)
    out = generate(model, idx, a.max_new_tokens, config["model"]["context_length"],
                   temperature=a.temperature, top_k=a.top_k or None)
    ids = out[0, len(prompt_ids):].tolist()
    if a.bytes:
        _, text = tiktoken("", ids)
        with open(a.bytes, "wb") as f:
            f.write(text)
    print(json.dumps({"prompt_ids": prompt_ids, "ids": ids}))


if __name__ == "__main__":
    main()

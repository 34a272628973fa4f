#!/usr/bin/env bash
# Weights between PyTorch and ember (issue 15), on files the reference
# script makes (tests/reference/weights_reference.py: a small GPT-2-shaped
# model with random weights as Hugging Face safetensors, with and without
# the "transformer." prefix and in BF16, as safetensors and as the book's
# .pth): ember forward --weights gives PyTorch's logits within 1e-5, ember
# generate --weights the book's ids (greedy and seeded top-k, with and
# without the KV cache), and ember export writes a .pth the book's GPTModel
# loads with strict=True and Hugging Face's tensors back. Skips (77)
# without Debian's python3-torch.
#   bash weights_reference.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
need_torch "weights_reference (weights between PyTorch and ember)"
"$py" tests/reference/weights_reference.py "$ember" "$w"

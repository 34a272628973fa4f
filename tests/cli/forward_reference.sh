#!/usr/bin/env bash
# `ember forward` against the book's GPTModel in PyTorch
# (tests/reference/forward_reference.py, gpt_book.build_model): five fresh
# seeded models (GPT-2's vocabulary, qkv_bias, RMSNorm, sinusoidal with tied
# weights, a full context with 8 heads and 3 blocks; emb_dim 64, 2 rows each)
# must give the same num_parameters, logits and dumped outputs of
# trf_blocks.0.att, trf_blocks.1 and final_norm, within 1e-5 (relative to
# values above 1 for the tied case, which is not the book's; see the script).
# Skips (77) without Debian's python3-torch.
#   bash forward_reference.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/needs.sh"
need_torch "forward_reference (ember forward vs the book's GPTModel)"
"$py" tests/reference/forward_reference.py "$ember" "$w"

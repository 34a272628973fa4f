#!/usr/bin/env bash
# Parity with transformer blocks: a small GPT (2 blocks, 4 heads, emb_dim
# 64, context_length = max_length = stride = 64, batch 4, dropout 0.1 in the
# embedding, attention and shortcuts, shuffled batches, 2 epochs) against the
# book's GPTModel in the same PyTorch reference (train_parity.sh: every
# evaluation's train and val loss within 1e-4, equal tokens_seen). The
# GPT-2 vocabulary makes each step costly (a 64 x 50257 head), so half the
# text trains (train_ratio 0.5: 9 steps an epoch, 4 evaluations): the whole
# test takes ~27 s on 2 quiet cores, ~47 s on busy ones (measured).
exec bash "$(dirname "$0")/train_parity.sh" "$1" "$2" \
  --set model.n_layers=2 --set model.n_heads=4 --set model.emb_dim=64 \
  --set model.context_length=64 --set data.max_length=64 --set data.stride=64 \
  --set data.batch_size=4 --set data.train_ratio=0.5 --set train.eval_iter=2

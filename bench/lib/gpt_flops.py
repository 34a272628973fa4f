"""The FLOP count of one trained token of the book's GPT, shared by the
training benchmarks' tables (bench/lib/gpt2_train_table.py and
bench/lib/gpu_train_table.py)."""


def matmul_params(n_layers, emb_dim, vocab, qkv_bias=False, tie_weights=False):
    """Parameters that take part in matrix products: the blocks, the final
    norm and out_head, not the tok_emb / pos_emb lookups. Per block:
    attention 4D^2 + D (+ 3D qkv biases), feed-forward 8D^2 + 5D, norms 4D."""
    block = 12 * emb_dim * emb_dim + 10 * emb_dim + (3 * emb_dim if qkv_bias else 0)
    head = 0 if tie_weights else emb_dim * vocab
    return n_layers * block + 2 * emb_dim + head


def flop_per_token(n_layers, emb_dim, context, vocab, qkv_bias=False, tie_weights=False):
    """6 FLOP per matmul parameter (forward and backward) plus attention's
    12·L·T·D (scores and the weighted sum, forward and backward)."""
    params = matmul_params(n_layers, emb_dim, vocab, qkv_bias, tie_weights)
    return 6 * params + 12 * n_layers * context * emb_dim

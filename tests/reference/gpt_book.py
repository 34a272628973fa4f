"""The book's chapter 3-4 model classes (rasbt, LLMs-from-scratch, ch04
gpt.py: MultiHeadAttention, LayerNorm, GELU, FeedForward, TransformerBlock,
GPTModel), written out here as the PyTorch twin ember's modules are checked
against. Kept as the book has them: names, order of construction, forward.

Below the book's classes, ember's options that the book lacks (RMSNorm, the
sinusoidal table, tied weights) and build_model(m), which builds the model an
ember [model] table describes, drawing the same random numbers in the same
order as ember's GPTModel (include/ember/nn/gpt_model.hpp)."""
import math

import torch
import torch.nn as nn


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
        super().__init__()
        assert d_out % num_heads == 0, "d_out must be divisible by n_heads"
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

    def forward(self, x):
        b, num_tokens, d_in = x.shape
        keys = self.W_key(x)
        queries = self.W_query(x)
        values = self.W_value(x)
        keys = keys.view(b, num_tokens, self.num_heads, self.head_dim)
        values = values.view(b, num_tokens, self.num_heads, self.head_dim)
        queries = queries.view(b, num_tokens, self.num_heads, self.head_dim)
        keys = keys.transpose(1, 2)
        queries = queries.transpose(1, 2)
        values = values.transpose(1, 2)
        attn_scores = queries @ keys.transpose(2, 3)
        mask_bool = self.mask.bool()[:num_tokens, :num_tokens]
        attn_scores.masked_fill_(mask_bool, -torch.inf)
        attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
        attn_weights = self.dropout(attn_weights)
        context_vec = (attn_weights @ values).transpose(1, 2)
        context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)
        context_vec = self.out_proj(context_vec)
        return context_vec


class LayerNorm(nn.Module):
    def __init__(self, emb_dim):
        super().__init__()
        self.eps = 1e-5
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        norm_x = (x - mean) / torch.sqrt(var + self.eps)
        return self.scale * norm_x + self.shift


class GELU(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return 0.5 * x * (1 + torch.tanh(
            torch.sqrt(torch.tensor(2.0 / torch.pi)) *
            (x + 0.044715 * torch.pow(x, 3))
        ))


class FeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),
            GELU(),
            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),
        )

    def forward(self, x):
        return self.layers(x)


class TransformerBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            num_heads=cfg["n_heads"],
            dropout=cfg["drop_rate"],
            qkv_bias=cfg["qkv_bias"])
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x):
        shortcut = x
        x = self.norm1(x)
        x = self.att(x)
        x = self.drop_shortcut(x)
        x = x + shortcut
        shortcut = x
        x = self.norm2(x)
        x = self.ff(x)
        x = self.drop_shortcut(x)
        x = x + shortcut
        return x


class GPTModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(
            *[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        batch_size, seq_len = in_idx.shape
        tok_embeds = self.tok_emb(in_idx)
        pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))
        x = tok_embeds + pos_embeds
        x = self.drop_emb(x)
        x = self.trf_blocks(x)
        x = self.final_norm(x)
        logits = self.out_head(x)
        return logits


# ---- ember's options, not in the book ----

class RMSNorm(nn.Module):
    """ember's RMSNorm (src/nn/rms_norm.cpp): no mean, no shift; `weight`
    starts at ones (no random draws, like the book's LayerNorm)."""

    def __init__(self, emb_dim):
        super().__init__()
        self.eps = 1e-5
        self.weight = nn.Parameter(torch.ones(emb_dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


def sinusoidal_table(context_length, emb_dim):
    """ember's fixed positional table (src/nn/sinusoidal_encoding.cpp): built in
    float64, stored as float32."""
    pe = torch.zeros(context_length, emb_dim, dtype=torch.float64)
    for pos in range(context_length):
        for i in range(0, emb_dim, 2):
            angle = pos * math.exp(-math.log(10000.0) * i / emb_dim)
            pe[pos, i] = math.sin(angle)
            if i + 1 < emb_dim:
                pe[pos, i + 1] = math.cos(angle)
    return pe.float()


class SinusoidalGPTModel(GPTModel):
    """The book's GPTModel with pos_emb replaced by the buffer `pe`:
    GPTModel.__init__ with that one line changed (pos_emb is never built, so
    its draws are not taken, as in ember), and forward adding pe[:T]."""

    def __init__(self, cfg):
        nn.Module.__init__(self)
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.register_buffer("pe", sinusoidal_table(cfg["context_length"], cfg["emb_dim"]))
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(
            *[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        batch_size, seq_len = in_idx.shape
        x = self.tok_emb(in_idx) + self.pe[:seq_len]
        x = self.drop_emb(x)
        x = self.trf_blocks(x)
        x = self.final_norm(x)
        return self.out_head(x)


def build_model(m):
    """The book's GPTModel for an ember [model] table `m` (the keys of a
    resolved run.dir/config.toml): vocab_size, context_length, emb_dim,
    n_layers (>= 0), n_heads, drop_rate, qkv_bias, tie_weights, pos_encoding
    ("learned" | "sinusoidal"), norm ("layernorm" | "rmsnorm"), attention
    ("multihead"), feed_forward ("gelu"). Call torch.manual_seed first, as
    ember does.

    norm = "rmsnorm" swaps every LayerNorm (norm1, norm2, final_norm) for
    RMSNorm after construction: neither draws, so the other weights stay
    those of the book's model. tie_weights builds out_head (its draws are
    taken) and then shares tok_emb.weight, the book's
    `model.out_head.weight = model.tok_emb.weight`; named_parameters() then
    lists it once, under tok_emb.weight, as ember does."""
    for key, allowed in (("pos_encoding", ("learned", "sinusoidal")),
                         ("norm", ("layernorm", "rmsnorm")),
                         ("attention", ("multihead",)), ("feed_forward", ("gelu",))):
        if m.get(key, allowed[0]) not in allowed:
            raise ValueError(f"build_model: model.{key} = {m[key]!r} has no PyTorch twin "
                             f"(expected one of {', '.join(allowed)})")
    if m["n_layers"] < 0:
        raise ValueError(f"build_model: n_layers must be >= 0 (got {m['n_layers']})")
    cfg = {k: m[k] for k in ("vocab_size", "context_length", "emb_dim", "n_layers",
                             "n_heads", "drop_rate", "qkv_bias")}
    sinusoidal = m.get("pos_encoding", "learned") == "sinusoidal"
    model = SinusoidalGPTModel(cfg) if sinusoidal else GPTModel(cfg)
    if m.get("norm", "layernorm") == "rmsnorm":
        for block in model.trf_blocks:
            block.norm1 = RMSNorm(cfg["emb_dim"])
            block.norm2 = RMSNorm(cfg["emb_dim"])
        model.final_norm = RMSNorm(cfg["emb_dim"])
    if m.get("tie_weights", False):
        model.out_head.weight = model.tok_emb.weight
    return model

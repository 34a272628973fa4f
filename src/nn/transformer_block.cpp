#include "ember/nn/transformer_block.hpp"

namespace ember {

TransformerBlockImpl::TransformerBlockImpl(TransformerBlockOptions options)
    : options_(options) {
  const auto& o = options_;
  // The book's order: att, ff, norm1, norm2, drop_shortcut.
  att = register_module(
      "att",
      MultiHeadAttention(
          MultiHeadAttentionOptions(
              o.emb_dim(), o.emb_dim(), o.context_length(), o.n_heads())
              .dropout(o.drop_rate())
              .qkv_bias(o.qkv_bias())));
  ff = register_module("ff", FeedForward(FeedForwardOptions(o.emb_dim())));
  norm1 = register_module("norm1", LayerNorm(LayerNormOptions(o.emb_dim())));
  norm2 = register_module("norm2", LayerNorm(LayerNormOptions(o.emb_dim())));
  drop_shortcut = register_module(
      "drop_shortcut",
      torch::nn::Dropout(torch::nn::DropoutOptions(o.drop_rate())));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x) {
  // (B, T, D) -> (B, T, D), twice, each with a shortcut.
  auto y = x + drop_shortcut(att(norm1(x)));
  return y + drop_shortcut(ff(norm2(y)));
}

}  // namespace ember

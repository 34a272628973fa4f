// The book's TransformerBlock (ch04 gpt.py): pre-LayerNorm attention and
// feed-forward, each with dropout on its output and a residual connection:
//   x = x + drop_shortcut(att(norm1(x)))
//   x = x + drop_shortcut(ff(norm2(x)))
// Submodules under the book's names (att, ff, norm1, norm2, drop_shortcut),
// built in its order, so torch::manual_seed(s) gives PyTorch's weights.
// Dimensions: B batch, T tokens, D emb_dim.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/pimpl.h>

#include <ember/nn/feed_forward.hpp>
#include <ember/nn/layer_norm.hpp>
#include <ember/nn/multi_head_attention.hpp>

namespace ember {

/// The book's cfg keys: TransformerBlockOptions(768, 1024, 12)
///   .drop_rate(0.1).qkv_bias(false)
struct TransformerBlockOptions {
  TransformerBlockOptions(
      // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the book's order
      int64_t emb_dim,
      int64_t context_length,
      int64_t n_heads)
      : emb_dim_(emb_dim), context_length_(context_length), n_heads_(n_heads) {}
  TORCH_ARG(int64_t, emb_dim);
  TORCH_ARG(int64_t, context_length);
  TORCH_ARG(int64_t, n_heads);
  TORCH_ARG(double, drop_rate) = 0.1;
  TORCH_ARG(bool, qkv_bias) = false;
};

///   TransformerBlock block(TransformerBlockOptions(768, 1024, 12));
///   block(x) // (B, T, 768) -> (B, T, 768)
class TransformerBlockImpl : public torch::nn::Module {
 public:
  /// Throws c10::ValueError when emb_dim % n_heads != 0.
  explicit TransformerBlockImpl(TransformerBlockOptions options);

  /// (B, T, D) -> (B, T, D).
  torch::Tensor forward(const torch::Tensor& x);

  MultiHeadAttention att{nullptr};
  FeedForward ff{nullptr};
  LayerNorm norm1{nullptr};
  LayerNorm norm2{nullptr};
  torch::nn::Dropout drop_shortcut{nullptr};

 private:
  TransformerBlockOptions options_;
};

TORCH_MODULE(TransformerBlock);

}  // namespace ember

// The book's MultiHeadAttention (ch03, the final version; ch04 gpt.py):
// W_query, W_key, W_value = Linear(d_in, d_out, bias=qkv_bias), out_proj =
// Linear(d_out, d_out), Dropout on the attention weights, scores scaled by
// 1/sqrt(head_dim), a causal mask from the registered buffer `mask` (the
// upper triangle of a (context_length, context_length) matrix of ones),
// heads split with view/transpose and merged back as the book does.
// forward_cached() is the KV-cache step (nn/kv_cache.hpp).
// With fused(true) (model.attention = "fused") a whole causal forward goes
// through one scaled_dot_product_attention call (nn/causal_attention.hpp:
// FlashAttention on CUDA with LibTorch 2.x) instead of the book's mask,
// softmax and Dropout; the weights, their names and the random draws of
// construction are the same, the results equal within rounding, but its
// dropout masks are PyTorch's kernel's, not the book's. (LibTorch 1.13's
// math path scales by 1/sqrt(h) before the product rather than after and
// draws ATen's dropout, the book's masks: within rounding of the book's,
// the same bits where sqrt(h) is a power of two, as GPT-2's 64, and no
// speed to gain.)
// The KV-cache steps after the first and forward_last() over T > 1 attend
// the book's way (queries fewer than keys).
// Dimensions: B batch, T tokens, D d_out, H heads, h = D / H head_dim.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <ember/nn/dropout.hpp>
#include <ember/nn/kv_cache.hpp>
#include <ember/nn/last_position.hpp>

namespace ember {

/// MultiHeadAttentionOptions(768, 768, 1024, 12).dropout(0.1).qkv_bias(true)
struct MultiHeadAttentionOptions {
  MultiHeadAttentionOptions(
      // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the book's order
      int64_t d_in,
      int64_t d_out,
      int64_t context_length,
      int64_t num_heads)
      : d_in_(d_in),
        d_out_(d_out),
        context_length_(context_length),
        num_heads_(num_heads) {}
  TORCH_ARG(int64_t, d_in);
  TORCH_ARG(int64_t, d_out);
  /// The longest T forward accepts (the mask's size).
  TORCH_ARG(int64_t, context_length);
  TORCH_ARG(int64_t, num_heads);
  /// Dropout probability on the attention weights.
  TORCH_ARG(double, dropout) = 0.0;
  /// Bias in W_query, W_key, W_value (GPT-2's pretrained weights have one).
  TORCH_ARG(bool, qkv_bias) = false;
  /// forward() through causal_attention() (nn/causal_attention.hpp).
  TORCH_ARG(bool, fused) = false;
};

///   torch::manual_seed(123);
///   MultiHeadAttention att(MultiHeadAttentionOptions(768, 768, 1024, 12));
///   att(x) // (2, 4, 768) -> (2, 4, 768), token t attends to tokens <= t
class MultiHeadAttentionImpl : public torch::nn::Module,
                               public CachedAttention,
                               public LastPositionAttention {
 public:
  /// Throws c10::ValueError when d_out % num_heads != 0 or a size is < 1.
  explicit MultiHeadAttentionImpl(MultiHeadAttentionOptions options);

  /// (B, T, d_in) -> (B, T, d_out). Throws c10::Error on a rank other than
  /// 3, a last dimension other than d_in, or T > context_length.
  torch::Tensor forward(const torch::Tensor& x);

  /// forward() of the T new positions after the cache's P: keys and values
  /// of x are appended to `cache` (its buffers allocated on first use), and
  /// position P + t attends to positions <= P + t, masked as forward() masks
  /// them. With an empty cache it computes what forward() does.
  torch::Tensor forward_cached(
      const torch::Tensor& x, LayerCache& cache) override;

  /// forward(x)'s last position (B, 1, d_out): keys and values of all T,
  /// the query of the last.
  torch::Tensor forward_last(const torch::Tensor& x) override;

  const MultiHeadAttentionOptions& options() const {
    return options_;
  }

  torch::nn::Linear W_query{nullptr};  // NOLINT(readability-identifier-naming)
  torch::nn::Linear W_key{nullptr};    // NOLINT(readability-identifier-naming)
  torch::nn::Linear W_value{nullptr};  // NOLINT(readability-identifier-naming)
  torch::nn::Linear out_proj{nullptr};
  Dropout dropout{nullptr};
  torch::Tensor mask;  ///< (C, C) float, 1 above the diagonal

 private:
  /// Checks x's shape and that P + T fits the context; returns T.
  int64_t check_input(const torch::Tensor& x, int64_t past) const;
  /// (B, T, d_in) -> (B, H, T, h) through `linear`.
  torch::Tensor heads(torch::nn::Linear& linear, const torch::Tensor& x);
  /// Attention of queries (B, H, T, h) at positions past..past+T-1 over
  /// keys and values (B, H, past+T, h), then out_proj: (B, T, D). Through
  /// causal_attention() when fused and past is 0, else masked_attention().
  torch::Tensor attend(
      const torch::Tensor& queries,
      const torch::Tensor& keys,
      const torch::Tensor& values,
      int64_t past);
  /// The book's: scores masked above position past + t, scaled, softmax,
  /// Dropout, times values: (B, H, T, h).
  torch::Tensor masked_attention(
      const torch::Tensor& queries,
      const torch::Tensor& keys,
      const torch::Tensor& values,
      int64_t past);
  MultiHeadAttentionOptions options_;
};

TORCH_MODULE(MultiHeadAttention);

}  // namespace ember

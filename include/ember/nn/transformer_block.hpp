// The book's TransformerBlock (ch04 gpt.py): pre-LayerNorm attention and
// feed-forward, each with dropout on its output and a residual connection:
//   x = x + drop_shortcut(att(norm1(x)))
//   x = x + drop_shortcut(ff(norm2(x)))
// Submodules under the book's names (att, ff, norm1, norm2, drop_shortcut),
// built in its order, so torch::manual_seed(s) gives PyTorch's weights. The
// norms, attention and feed-forward come from nn/registry.hpp (defaults the
// book's LayerNorm, MultiHeadAttention and FeedForward).
// Dimensions: B batch, T tokens, D emb_dim.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/pimpl.h>

#include <ember/nn/dropout.hpp>
#include <ember/nn/kv_cache.hpp>

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
  /// Names in nn/registry.hpp's norms(), attentions(), feed_forwards().
  TORCH_ARG(std::string, norm) = "layernorm";
  TORCH_ARG(std::string, attention) = "multihead";
  TORCH_ARG(std::string, feed_forward) = "gelu";
};

/// Outputs of named modules collected during a forward pass (`ember forward
/// --dump`): a module offers its output under its full name, kept when
/// wanted.
struct Activations {
  std::set<std::string> wanted;
  std::map<std::string, torch::Tensor> got;
  void offer(const std::string& name, const torch::Tensor& t) {
    if (wanted.count(name) != 0) got[name] = t;
  }
};

///   TransformerBlock block(TransformerBlockOptions(768, 1024, 12));
///   block(x) // (B, T, 768) -> (B, T, 768)
class TransformerBlockImpl : public torch::nn::Module {
 public:
  /// Throws c10::ValueError when emb_dim % n_heads != 0, ConfigError for a
  /// name no registry holds.
  explicit TransformerBlockImpl(TransformerBlockOptions options);

  /// (B, T, D) -> (B, T, D).
  torch::Tensor forward(const torch::Tensor& x);

  /// forward() of T new positions, attention through the cache
  /// (nn/kv_cache.hpp). Throws ember::Error when the attention is not a
  /// CachedAttention (supports_kv_cache() says so beforehand).
  torch::Tensor forward_cached(const torch::Tensor& x, LayerCache& cache);

  /// forward(x)'s last position (B, 1, D), the attention through
  /// LastPositionAttention (nn/last_position.hpp). Throws ember::Error when
  /// the attention does not implement it (supports_last_position()).
  torch::Tensor forward_last(const torch::Tensor& x);
  bool supports_last_position() const;

  /// Whether the attention module implements CachedAttention.
  bool supports_kv_cache() const;

  /// forward() that also offers `<prefix>.norm1`, `.att`, `.ff`, `.norm2`
  /// and `<prefix>` itself to `acts`.
  torch::Tensor forward_with(
      const torch::Tensor& x, Activations& acts, const std::string& prefix);

  /// The names forward_with() offers, under `prefix`, in order.
  static std::vector<std::string> dump_points(const std::string& prefix);

  torch::nn::AnyModule att;
  torch::nn::AnyModule ff;
  torch::nn::AnyModule norm1;
  torch::nn::AnyModule norm2;
  Dropout drop_shortcut{nullptr};

 private:
  TransformerBlockOptions options_;
};

TORCH_MODULE(TransformerBlock);

}  // namespace ember

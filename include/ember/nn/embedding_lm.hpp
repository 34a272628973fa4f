// EmbeddingLM: the book's GPTModel (ch04 gpt.py) with zero transformer
// blocks: input embedding (token + positional), Dropout(drop_rate), a slot of
// n_layers blocks (empty until blocks land: n_layers must be 0), final
// LayerNorm(D), out_head = Linear(D, V, bias=false); optional tie_weights.
// Parameters are created in that order, so torch::manual_seed(s) gives the
// weights of the same model built in PyTorch. Leaves out: transformer
// blocks, KV cache. Dimensions: B batch, T sequence, D emb_dim, V vocab.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

namespace ember {

/// EmbeddingLMOptions(50257, 256, 256).drop_rate(0.1)
struct EmbeddingLMOptions {
  EmbeddingLMOptions(
      int64_t vocab_size, int64_t context_length, int64_t emb_dim)
      : vocab_size_(vocab_size),
        context_length_(context_length),
        emb_dim_(emb_dim) {}
  TORCH_ARG(int64_t, vocab_size);
  TORCH_ARG(int64_t, context_length);
  TORCH_ARG(int64_t, emb_dim);
  TORCH_ARG(double, drop_rate) = 0.1;
  /// Transformer blocks in the slot; only 0 until a later issue adds them.
  TORCH_ARG(int64_t, n_layers) = 0;
  /// out_head uses the input embedding's `tok_emb.weight` (the out_head
  /// Linear is still built first, so the random draws match untied runs).
  TORCH_ARG(bool, tie_weights) = false;
  /// Name in nn/registry.hpp: "learned" or "sinusoidal" built in.
  TORCH_ARG(std::string, pos_encoding) = "learned";
};

/// Submodules, in order: `embedding` (from the registry), `drop_emb`,
/// `trf_blocks` (Sequential, empty), `final_norm`, `out_head`.
///
///   torch::manual_seed(123);
///   EmbeddingLM lm(EmbeddingLMOptions(50257, 256, 256));
///   lm(ids) // (2, 256) int64 -> (2, 256, 50257) logits
class EmbeddingLMImpl : public torch::nn::Module {
 public:
  /// Throws ConfigError for an unknown pos_encoding, c10::ValueError for
  /// n_layers != 0 or tie_weights with an embedding lacking tok_emb.
  explicit EmbeddingLMImpl(EmbeddingLMOptions options);

  /// (B, T) int64 ids -> (B, T, V) float logits.
  torch::Tensor forward(const torch::Tensor& ids);

  const EmbeddingLMOptions& options() const {
    return options_;
  }

  torch::nn::AnyModule embedding;
  torch::nn::Dropout drop_emb{nullptr};
  torch::nn::Sequential trf_blocks{nullptr};
  torch::nn::LayerNorm final_norm{nullptr};
  torch::nn::Linear out_head{nullptr};

 private:
  EmbeddingLMOptions options_;
  torch::Tensor tied_weight_;  // (V, D) tok_emb.weight when tied
};

TORCH_MODULE(EmbeddingLM);

/// The book's calc_loss_batch: cross-entropy of logits.flatten(0, 1) (B*T, V)
/// against targets.flatten() (B*T), mean over tokens; a 0-dim tensor.
torch::Tensor lm_loss(
    const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace ember

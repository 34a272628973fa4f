// Token embedding plus the original Transformer's fixed sinusoidal positional
// encoding (Vaswani et al. 2017, section 3.5): PE[pos, 2i] = sin(pos /
// 10000^(2i/D)), PE[pos, 2i+1] = cos(pos / 10000^(2i/D)). The worked example
// of docs/extending.md, selected with model.pos_encoding = "sinusoidal".
// Leaves out the paper's sqrt(D) scaling of the token embedding, so it is a
// drop-in for GPTEmbedding. Dimensions: B batch, T sequence, D emb_dim.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <ember/nn/kv_cache.hpp>

namespace ember {

struct SinusoidalEncodingOptions {
  SinusoidalEncodingOptions(
      int64_t vocab_size, int64_t context_length, int64_t emb_dim)
      : vocab_size_(vocab_size),
        context_length_(context_length),
        emb_dim_(emb_dim) {}
  TORCH_ARG(int64_t, vocab_size);
  TORCH_ARG(int64_t, context_length);
  TORCH_ARG(int64_t, emb_dim);
};

/// Parameters: `tok_emb` = Embedding(V, D) only; the (C, D) table `pe` is a
/// buffer (saved, never trained).
///   SinusoidalEncoding enc(SinusoidalEncodingOptions(50257, 256, 64));
///   enc(ids) // (B, T) int64 -> (B, T, 64)
class SinusoidalEncodingImpl : public torch::nn::Module,
                               public PositionedEmbedding {
 public:
  /// Throws c10::ValueError when an option is < 1.
  explicit SinusoidalEncodingImpl(SinusoidalEncodingOptions options);

  /// (B, T) int64 ids -> (B, T, D). Throws c10::Error on a rank other than
  /// 2, a dtype other than int64, T > context_length or an id outside [0, V).
  torch::Tensor forward(const torch::Tensor& ids);

  /// forward() at positions start..start+T-1 (a KV-cache step).
  torch::Tensor forward_at(const torch::Tensor& ids, int64_t start) override;

  /// The (C, D) float32 table, computed in float64.
  static torch::Tensor table(int64_t context_length, int64_t emb_dim);

  torch::nn::Embedding tok_emb{nullptr};
  torch::Tensor pe;

 private:
  SinusoidalEncodingOptions options_;
};

TORCH_MODULE(SinusoidalEncoding);

}  // namespace ember

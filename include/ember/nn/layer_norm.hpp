// The book's LayerNorm (ch04 gpt.py, class LayerNorm): parameters `scale`
// (ones) and `shift` (zeros), eps 1e-5, biased variance:
//   scale * (x - mean) / sqrt(var + eps) + shift   over the last dimension.
// Same numbers as torch.nn.LayerNorm up to rounding, but the book's names,
// so state dicts carry `norm1.scale`, `final_norm.shift`, ...
// Dimensions: D emb_dim (the last dimension of the input).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace ember {

/// LayerNormOptions(768).eps(1e-5)
struct LayerNormOptions {
  explicit LayerNormOptions(int64_t emb_dim) : emb_dim_(emb_dim) {}
  /// D: the size of the normalized (last) dimension.
  TORCH_ARG(int64_t, emb_dim);
  TORCH_ARG(double, eps) = 1e-5;
};

///   LayerNorm norm(LayerNormOptions(768));
///   norm(x) // (..., 768) -> (..., 768): mean 0, biased variance 1
class LayerNormImpl : public torch::nn::Module {
 public:
  /// Throws c10::ValueError when emb_dim < 1.
  explicit LayerNormImpl(LayerNormOptions options);

  /// (..., D) -> (..., D). Throws c10::Error when the last dimension is not D.
  torch::Tensor forward(const torch::Tensor& x);

  const LayerNormOptions& options() const {
    return options_;
  }

  torch::Tensor scale;  ///< (D,) ones
  torch::Tensor shift;  ///< (D,) zeros

 private:
  LayerNormOptions options_;
};

TORCH_MODULE(LayerNorm);

}  // namespace ember

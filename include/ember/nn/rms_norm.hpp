// RMSNorm (Zhang & Sennrich 2019; Llama's norm, the book's bonus Llama
// chapter): no mean subtraction and no shift, one parameter `weight` (ones):
//   weight * x / sqrt(mean(x^2) + eps)   over the last dimension.
// Not in the book's GPT: it is ember's worked example of a registered norm
// (`model.norm = "rmsnorm"`, docs/extending.md). torch 1.13 has no
// nn.RMSNorm; tests/reference/gpt_book.py holds the PyTorch twin.
// Dimensions: D emb_dim (the last dimension of the input).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace ember {

/// RMSNormOptions(768).eps(1e-5)
struct RMSNormOptions {
  explicit RMSNormOptions(int64_t emb_dim) : emb_dim_(emb_dim) {}
  TORCH_ARG(int64_t, emb_dim);
  TORCH_ARG(double, eps) = 1e-5;
};

///   RMSNorm norm(RMSNormOptions(768));
///   norm(x) // (..., 768) -> (..., 768): root mean square 1, then * weight
class RMSNormImpl : public torch::nn::Module {
 public:
  /// Throws c10::ValueError when emb_dim < 1.
  explicit RMSNormImpl(RMSNormOptions options);

  /// (..., D) -> (..., D). Throws c10::Error when the last dimension is not D.
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  ///< (D,) ones

 private:
  RMSNormOptions options_;
};

TORCH_MODULE(RMSNorm);

}  // namespace ember

// The book's GELU and FeedForward (ch04 gpt.py): GELU is the tanh
// approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), written op
// for op as the book does; FeedForward is Sequential(Linear(D, 4D), GELU,
// Linear(4D, D)) under the name `layers`, so its state-dict keys are
// `layers.0.weight`, `layers.0.bias`, `layers.2.weight`, `layers.2.bias`.
// Dimensions: D emb_dim.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace ember {

/// The tanh-approximation GELU of the book, elementwise on any shape.
torch::Tensor gelu_tanh(const torch::Tensor& x);

/// gelu_tanh as a module (no parameters), for Sequential.
class GELUImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x) {
    return gelu_tanh(x);
  }
};

TORCH_MODULE(GELU);

/// FeedForwardOptions(768): hidden width 4 * emb_dim, as GPT-2.
struct FeedForwardOptions {
  explicit FeedForwardOptions(int64_t emb_dim) : emb_dim_(emb_dim) {}
  TORCH_ARG(int64_t, emb_dim);
};

///   FeedForward ff(FeedForwardOptions(768));
///   ff(x) // (B, T, 768) -> (B, T, 768) through a width of 3072
class FeedForwardImpl : public torch::nn::Module {
 public:
  /// Throws c10::ValueError when emb_dim < 1.
  explicit FeedForwardImpl(FeedForwardOptions options);

  /// (..., D) -> (..., D).
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Sequential layers{nullptr};

 private:
  FeedForwardOptions options_;
  torch::nn::Linear up_{nullptr}, down_{nullptr};  // layers[0] and [2]
};

TORCH_MODULE(FeedForward);

}  // namespace ember

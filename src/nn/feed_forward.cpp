#include "ember/nn/feed_forward.hpp"

#include <cmath>

#include <ATen/ops/scalar_tensor.h>
#include <c10/util/Exception.h>
#include <torch/nn/modules/linear.h>

#include <ember/nn/registry.hpp>

namespace ember {

torch::Tensor gelu_tanh(const torch::Tensor& x) {
  // The book: 0.5 * x * (1 + torch.tanh(torch.sqrt(torch.tensor(2.0 /
  // torch.pi)) * (x + 0.044715 * torch.pow(x, 3)))), the constant a float32
  // 0-dim tensor as torch.tensor makes it.
  const auto c = at::scalar_tensor(2.0 / M_PI, x.options()).sqrt();
  return 0.5 * x * (1 + at::tanh(c * (x + 0.044715 * at::pow(x, 3))));
}

FeedForwardImpl::FeedForwardImpl(FeedForwardOptions options)
    : options_(options) {
  const int64_t d = options_.emb_dim();
  TORCH_CHECK_VALUE(
      d >= 1, "FeedForward: emb_dim must be at least 1 (got ", d, ")");
  // Draw order: the first Linear's weight and bias, then the second's. Built
  // in statements of their own: the order in which the arguments of one call
  // are evaluated is unspecified (g++ goes right to left).
  torch::nn::Linear up(d, 4 * d);
  torch::nn::Linear down(4 * d, d);
  layers = register_module("layers", torch::nn::Sequential(up, GELU(), down));
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  // (..., D) -> (..., 4D) -> (..., D)
  return layers->forward(x);
}

// The book's FeedForward: the default of model.feed_forward.
EMBER_REGISTER_MODULE(feed_forwards, gelu, [](const BlockSpec& s) {
  return torch::nn::AnyModule(FeedForward(FeedForwardOptions(s.emb_dim)));
});

}  // namespace ember

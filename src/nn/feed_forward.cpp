#include "ember/nn/feed_forward.hpp"

#include <ATen/ops/gelu.h>
#include <c10/util/Exception.h>
#include <torch/nn/modules/linear.h>

#include <ember/nn/adapter.hpp>
#include <ember/nn/registry.hpp>

namespace ember {

torch::Tensor gelu_tanh(const torch::Tensor& x) {
  // The book's 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))),
  // as ATen's fused kernel (one pass forward, one backward, instead of
  // eight elementwise ops each way); equal up to float rounding.
  if (x.scalar_type() == at::kBFloat16 && x.device().is_cpu()) {
    // Under bf16 autocast on the CPU (the up-projection's output): in fp32
    // and rounded once. LibTorch 1.13's GELU has no vectorized bf16 kernel;
    // this is 2.6x faster forward and backward on GPT-2 small's (B, T, 3072)
    // and closer to the exact values (bench/README.md, "bf16 on the CPU").
    return at::gelu(x.to(at::kFloat), "tanh").to(at::kBFloat16);
  }
  return at::gelu(x, "tanh");
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
  up_ = up;
  down_ = down;
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  // (..., D) -> (..., 4D) -> (..., D); each Linear with its adapter, if any.
  return adapted(down_, gelu_tanh(adapted(up_, x)));
}

// The book's FeedForward: the default of model.feed_forward.
EMBER_REGISTER_MODULE(feed_forwards, gelu, [](const BlockSpec& s) {
  return torch::nn::AnyModule(FeedForward(FeedForwardOptions(s.emb_dim)));
});

}  // namespace ember

#include "ember/nn/layer_norm.hpp"

#include <ATen/ops/ones.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>

#include <ember/nn/registry.hpp>

namespace ember {

LayerNormImpl::LayerNormImpl(LayerNormOptions options)
    : options_(std::move(options)) {
  TORCH_CHECK_VALUE(
      options_.emb_dim() >= 1,
      "LayerNorm: emb_dim must be at least 1 (got ",
      options_.emb_dim(),
      ")");
  scale = register_parameter("scale", at::ones({options_.emb_dim()}));
  shift = register_parameter("shift", at::zeros({options_.emb_dim()}));
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(
      x.dim() >= 1 && x.size(-1) == options_.emb_dim(),
      "LayerNorm: the last dimension must be emb_dim (got shape ",
      x.sizes(),
      ", expected (..., ",
      options_.emb_dim(),
      "))");
  // The book's forward, op for op (so the rounding is PyTorch's too).
  const auto mean = x.mean(-1, /*keepdim=*/true);
  const auto var = x.var(-1, /*unbiased=*/false, /*keepdim=*/true);
  const auto norm_x = (x - mean) / (var + options_.eps()).sqrt();
  return scale * norm_x + shift;
}

// The book's LayerNorm: the default of model.norm.
EMBER_REGISTER_MODULE(norms, layernorm, [](const BlockSpec& s) {
  return torch::nn::AnyModule(LayerNorm(LayerNormOptions(s.emb_dim)));
});

}  // namespace ember

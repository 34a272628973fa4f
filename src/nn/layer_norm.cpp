#include "ember/nn/layer_norm.hpp"

#include <ATen/ops/layer_norm.h>
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
  // The book's scale * (x - mean) / sqrt(var + eps) + shift (biased
  // variance) as ATen's fused kernel: one pass each way instead of the
  // book's seven ops; equal up to float rounding.
  return at::layer_norm(x, {options_.emb_dim()}, scale, shift, options_.eps());
}

// The book's LayerNorm: the default of model.norm.
EMBER_REGISTER_MODULE(norms, layernorm, [](const BlockSpec& s) {
  return torch::nn::AnyModule(LayerNorm(LayerNormOptions(s.emb_dim)));
});

}  // namespace ember

#include "ember/nn/rms_norm.hpp"

#include <ATen/ops/ones.h>
#include <ATen/ops/rsqrt.h>
#include <c10/util/Exception.h>

#include <ember/nn/registry.hpp>

namespace ember {

RMSNormImpl::RMSNormImpl(RMSNormOptions options) : options_(options) {
  TORCH_CHECK_VALUE(
      options_.emb_dim() >= 1,
      "RMSNorm: emb_dim must be at least 1 (got ",
      options_.emb_dim(),
      ")");
  weight = register_parameter("weight", at::ones({options_.emb_dim()}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(
      x.dim() >= 1 && x.size(-1) == options_.emb_dim(),
      "RMSNorm: the last dimension must be emb_dim (got shape ",
      x.sizes(),
      ", expected (..., ",
      options_.emb_dim(),
      "))");
  // (..., D) -> (..., 1) mean of squares, broadcast back over D.
  const auto means = x.pow(2).mean(-1, /*keepdim=*/true);
  return x * at::rsqrt(means + options_.eps()) * weight;
}

// Registered exactly as a user's own norm would be (docs/extending.md).
EMBER_REGISTER_MODULE(norms, rmsnorm, [](const BlockSpec& s) {
  return torch::nn::AnyModule(RMSNorm(RMSNormOptions(s.emb_dim)));
});

}  // namespace ember

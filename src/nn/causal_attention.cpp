#include "ember/nn/causal_attention.hpp"

#include <tuple>

#include <c10/util/Exception.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR >= 2
#include <ATen/ops/scaled_dot_product_attention.h>
#else
#include <ATen/ops/_scaled_dot_product_attention.h>
#endif

namespace ember {

at::Tensor causal_attention(
    const at::Tensor& q,
    const at::Tensor& k,
    const at::Tensor& v,
    double dropout_p) {
  TORCH_CHECK(
      q.dim() == 4 && k.sizes().equals(q.sizes()) &&
          v.sizes().equals(q.sizes()),
      "causal_attention: q, k and v must be (B, H, T, h) alike (got ",
      q.sizes(),
      ", ",
      k.sizes(),
      ", ",
      v.sizes(),
      ")");
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(
      q, k, v, /*attn_mask=*/{}, dropout_p, /*is_causal=*/true);
#else
  return std::get<0>(at::_scaled_dot_product_attention(
      q,
      k,
      v,
      /*attn_mask=*/{},
      dropout_p,
      /*need_attn_weights=*/false,
      /*is_causal=*/true));
#endif
}

}  // namespace ember

#include "adamw_kernel.hpp"

#include <cmath>

#include <ember/util/vector_clones.hpp>

namespace ember {

EMBER_VECTOR_CLONES
void adamw_update(
    const AdamWCoefficients& c,
    float* __restrict p,
    const float* __restrict g,
    float* __restrict m,
    float* __restrict v,
    int64_t n) {
  const AdamWCoefficients k = c;  // a local copy: no aliasing with the data
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] * k.beta1 + k.one_minus_beta1 * gi;
    const float vi = v[i] * k.beta2 + k.one_minus_beta2 * gi * gi;
    const float denom = std::sqrt(vi) / k.bias_correction2_sqrt + k.eps;
    p[i] = p[i] * k.decay + k.neg_step_size * (mi / denom);
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace ember

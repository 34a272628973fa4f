// The element loop of ember::AdamW's float32 CPU update, in a file of its
// own so that it vectorizes with the same bits on every CPU
// (util/vector_clones.hpp).
#pragma once

#include <cstdint>

namespace ember {

/// PyTorch 1.13's AdamW scalars for one step, rounded to float as its CPU
/// kernels round them.
struct AdamWCoefficients {
  float decay;  ///< 1 - lr * weight_decay
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float bias_correction2_sqrt, eps;
  float neg_step_size;  ///< -lr / (1 - beta1^step)
};

/// One update of n elements in place: param `p`, gradient `g`, first and
/// second moments `m` and `v` (non-overlapping).
void adamw_update(
    const AdamWCoefficients& c,
    float* p,
    const float* g,
    float* m,
    float* v,
    int64_t n);

}  // namespace ember

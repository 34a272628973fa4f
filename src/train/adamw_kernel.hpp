// The element loop of ember::AdamW's float32 CPU update, in a file of its
// own: it is compiled with -fno-math-errno (a square root that sets no errno
// vectorizes) and -ffp-contract=off (no FMA), and, with GCC on x86-64, in
// AVX-512, AVX2 and baseline copies that the loader picks from for the CPU
// at start-up (target_clones). Every copy computes each element with the
// same IEEE operations in the same order, so the bits do not depend on the
// CPU: a resumed run or a torchrun rank on another machine stays exact.
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

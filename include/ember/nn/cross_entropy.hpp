// Cross-entropy over a large vocabulary in one pass each way, for bf16
// logits on the CPU (train.precision = "bf16"): equal, within float
// rounding, to torch.nn.functional.cross_entropy(logits.float(), targets)
// (mean, ignore_index -100), without the (N, V) fp32 copy of the logits or
// the (N, V) fp32 log-probabilities ATen keeps for backward. Forward reads
// each row twice (its max, then the sum of exponentials: fp32 within 2
// ulp, summed in double); backward keeps the logits and one float a row and
// writes softmax - one-hot straight into the logits' dtype. No second-order
// gradient. fp32 training keeps ATen's cross_entropy (lm_loss), so its
// numbers stay PyTorch's to the bit.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace ember {

/// Mean cross-entropy of `logits` (N, V), bfloat16 or float32, contiguous,
/// on the CPU, against `targets` (N) int64, leaving out the rows whose
/// target is `ignore_index` (NaN when every row is; PyTorch's too). A 0-dim
/// float32 tensor, differentiable in `logits`. Throws c10::Error for a
/// target outside [0, V) that is not ignore_index (as cross_entropy).
at::Tensor fused_cross_entropy(
    const at::Tensor& logits,
    const at::Tensor& targets,
    int64_t ignore_index = -100);

}  // namespace ember

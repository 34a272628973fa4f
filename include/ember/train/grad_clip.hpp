// Global gradient-norm clipping: PyTorch 1.13's
// torch.nn.utils.clip_grad_norm_(parameters, max_norm) (norm_type 2,
// torch/nn/utils/clip_grad.py), op for op, so a clipped step is PyTorch's to
// the bit. Leaves out: other norm types, error_if_nonfinite, foreach kernels.
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

namespace ember {

/// The 2-norm of all `params`' gradients together (those without one are
/// skipped), as float32 torch.norm(torch.stack([torch.norm(g) ...])) gives
/// it, widened to double; 0 when no parameter has a gradient. When
/// max_norm > 0 each gradient is then multiplied in place by
/// clamp(max_norm / (norm + 1e-6), max=1) (skipped when that is 1, which
/// changes nothing). Returns the norm before clipping:
///   clip_grad_norm(model->parameters(), 1.0)  // -> 3.2; grads now norm ~1
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace ember

#include "ember/train/grad_clip.hpp"

#include <ATen/ops/clamp.h>
#include <ATen/ops/norm.h>
#include <ATen/ops/stack.h>
#include <c10/core/GradMode.h>

namespace ember {

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return 0.0;
  // torch.norm(g, 2.0) reduces over every dimension: dim = [0, ..., ndim).
  std::vector<at::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto& g : grads) {
    std::vector<int64_t> dims(static_cast<size_t>(g.dim()));
    for (size_t d = 0; d < dims.size(); ++d) dims[d] = static_cast<int64_t>(d);
    norms.push_back(at::norm(g.detach(), 2.0, dims, false));
  }
  const at::Tensor total = at::norm(at::stack(norms), 2.0, {0}, false);
  const double total_norm = total.item<double>();
  if (max_norm <= 0) return total_norm;
  // max_norm / (total_norm + 1e-6) is Tensor.__rtruediv__:
  // (total_norm + 1e-6).reciprocal() * max_norm.
  const at::Tensor coef =
      at::clamp((total + 1e-6).reciprocal() * max_norm, c10::nullopt, 1.0);
  if (coef.item<double>() >= 1.0) return total_norm;
  for (auto& g : grads) g.mul_(coef.to(g.device()));
  return total_norm;
}

}  // namespace ember

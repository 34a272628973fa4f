#include "ember/nn/lora.hpp"

#include <cmath>

#include <ATen/ops/empty.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <torch/nn/init.h>

namespace ember {

LoRAImpl::LoRAImpl(const AdapterSpec& spec)
    : scale_(spec.alpha / static_cast<double>(spec.rank)) {
  TORCH_CHECK_VALUE(
      spec.rank >= 1, "LoRA: rank must be at least 1 (got ", spec.rank, ")");
  TORCH_CHECK_VALUE(std::isfinite(spec.alpha), "LoRA: alpha must be finite");
  // The book's order: A, drawn, then B.
  A = register_parameter("A", at::empty({spec.in_features, spec.rank}));
  torch::nn::init::kaiming_uniform_(A, std::sqrt(5.0));
  B = register_parameter("B", at::zeros({spec.rank, spec.out_features}));
}

at::Tensor LoRAImpl::forward(const at::Tensor& x, const at::Tensor& base) {
  // The book's self.linear(x) + (alpha / rank) * (x @ A @ B).
  return base + scale_ * at::matmul(at::matmul(x, A), B);
}

at::Tensor LoRAImpl::delta_weight() const {
  return (scale_ * at::matmul(A, B)).t();
}

EMBER_REGISTER_ADAPTER(lora, [](const AdapterSpec& s) {
  return std::make_shared<LoRAImpl>(s);
});

}  // namespace ember

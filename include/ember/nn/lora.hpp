// LoRA, the book's appendix E (LoRALayer and LinearWithLoRA): beside a
// Linear(in, out), A (in, rank) drawn with kaiming_uniform_(a = sqrt(5)) and
// B (rank, out) zeros; the output is linear(x) + (alpha / rank) *
// (x @ A @ B), the book's current scaling. With B at zero the model's
// outputs are the base model's, bit for bit. Registered as adapter "lora"
// (nn/adapter.hpp).
#pragma once

#include <ember/nn/adapter.hpp>

namespace ember {

class LoRAImpl : public AdapterImpl {
 public:
  /// Throws c10::ValueError when rank < 1 or alpha is not finite.
  explicit LoRAImpl(const AdapterSpec& spec);

  at::Tensor forward(const at::Tensor& x, const at::Tensor& base) override;

  /// (alpha / rank) * (A @ B)^T, the (out, in) change of the weight.
  at::Tensor delta_weight() const override;

  at::Tensor A, B;  // NOLINT(readability-identifier-naming): the book's

 private:
  double scale_;
};

}  // namespace ember

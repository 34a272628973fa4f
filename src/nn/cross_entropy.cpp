#include "ember/nn/cross_entropy.hpp"

#include <limits>
#include <utility>

#include "cross_entropy_kernel.hpp"
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/scalar_tensor.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>

namespace ember {

namespace {

// Rows per task of at::parallel_for: a bf16 row at V = 50,257 is 100 KB.
constexpr int64_t kRowGrain = 4;

template <typename T>
const T* rows_of(const at::Tensor& t);
template <>
const float* rows_of<float>(const at::Tensor& t) {
  return t.data_ptr<float>();
}
template <>
const uint16_t* rows_of<uint16_t>(const at::Tensor& t) {
  return reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>());
}

template <typename T>
void logsumexp_rows(const at::Tensor& logits, at::Tensor& lse) {
  const T* x = rows_of<T>(logits);
  float* out = lse.data_ptr<float>();
  const int64_t cols = logits.size(1);
  at::parallel_for(0, logits.size(0), kRowGrain, [&](int64_t b, int64_t e) {
    rows_logsumexp(x + b * cols, e - b, cols, out + b);
  });
}

template <typename T>
void softmax_grad_rows(
    const at::Tensor& logits,
    const at::Tensor& lse,
    const at::Tensor& targets,
    const at::Tensor& scale,
    at::Tensor& grad) {
  const T* x = rows_of<T>(logits);
  T* out = const_cast<T*>(rows_of<T>(grad));
  const float* l = lse.data_ptr<float>();
  const int64_t* t = targets.data_ptr<int64_t>();
  const float* s = scale.data_ptr<float>();
  const int64_t cols = logits.size(1);
  at::parallel_for(0, logits.size(0), kRowGrain, [&](int64_t b, int64_t e) {
    rows_softmax_grad(
        x + b * cols, l + b, t + b, s + b, e - b, cols, out + b * cols);
  });
}

float value_at(const at::Tensor& logits, int64_t row, int64_t col) {
  const int64_t k = row * logits.size(1) + col;
  if (logits.scalar_type() == at::kBFloat16)
    return static_cast<float>(logits.data_ptr<at::BFloat16>()[k]);
  return logits.data_ptr<float>()[k];
}

// sum over the counted rows of lse[r] - x[r, target[r]], in double, and
// how many rows were counted.
std::pair<double, int64_t> summed_loss(
    const at::Tensor& logits,
    const at::Tensor& lse,
    const at::Tensor& targets,
    int64_t ignore_index) {
  const int64_t* t = targets.data_ptr<int64_t>();
  const float* l = lse.data_ptr<float>();
  const int64_t cols = logits.size(1);
  double sum = 0;
  int64_t count = 0;
  for (int64_t r = 0; r < logits.size(0); ++r) {
    if (t[r] == ignore_index) continue;
    TORCH_CHECK_INDEX(
        t[r] >= 0 && t[r] < cols, "Target ", t[r], " is out of bounds.");
    const float x = value_at(logits, r, t[r]);
    sum += static_cast<double>(l[r]) - static_cast<double>(x);
    ++count;
  }
  return {sum, count};
}

struct FusedCrossEntropy : public torch::autograd::Function<FusedCrossEntropy> {
  static at::Tensor forward(
      torch::autograd::AutogradContext* ctx,
      const at::Tensor& logits,
      const at::Tensor& targets,
      int64_t ignore_index) {
    auto lse = at::empty({logits.size(0)}, logits.options().dtype(at::kFloat));
    if (logits.scalar_type() == at::kBFloat16) {
      logsumexp_rows<uint16_t>(logits, lse);
    } else {
      logsumexp_rows<float>(logits, lse);
    }
    const auto [sum, count] = summed_loss(logits, lse, targets, ignore_index);
    ctx->save_for_backward({logits, targets, lse});
    ctx->saved_data["count"] = count;
    ctx->saved_data["ignore_index"] = ignore_index;
    const double mean = count > 0 ? sum / static_cast<double>(count)
                                  : std::numeric_limits<double>::quiet_NaN();
    return at::scalar_tensor(mean, logits.options().dtype(at::kFloat));
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& logits = saved[0];
    const auto& targets = saved[1];
    const auto& lse = saved[2];
    const int64_t count = ctx->saved_data["count"].toInt();
    const int64_t ignore_index = ctx->saved_data["ignore_index"].toInt();
    // d(mean)/d(row r's loss) = g / count for a counted row, 0 otherwise.
    const auto g = static_cast<float>(
        grad_outputs[0].item<double>() / static_cast<double>(count));
    auto scale = at::empty({logits.size(0)}, lse.options());
    const int64_t* t = targets.data_ptr<int64_t>();
    float* s = scale.data_ptr<float>();
    for (int64_t r = 0; r < logits.size(0); ++r)
      s[r] = t[r] == ignore_index ? 0.0f : g;
    auto grad = at::empty_like(logits);
    if (logits.scalar_type() == at::kBFloat16) {
      softmax_grad_rows<uint16_t>(logits, lse, targets, scale, grad);
    } else {
      softmax_grad_rows<float>(logits, lse, targets, scale, grad);
    }
    return {grad, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor fused_cross_entropy(
    const at::Tensor& logits, const at::Tensor& targets, int64_t ignore_index) {
  TORCH_CHECK_VALUE(
      logits.dim() == 2 && targets.dim() == 1 &&
          targets.size(0) == logits.size(0) && logits.size(1) > 0,
      "fused_cross_entropy: logits (N, V) and targets (N) expected, got ",
      logits.sizes(),
      " and ",
      targets.sizes());
  TORCH_CHECK_VALUE(
      logits.device().is_cpu() && (logits.scalar_type() == at::kBFloat16 ||
                                   logits.scalar_type() == at::kFloat),
      "fused_cross_entropy: bfloat16 or float32 CPU logits expected, got ",
      logits.scalar_type(),
      " on ",
      logits.device());
  TORCH_CHECK_VALUE(
      targets.scalar_type() == at::kLong,
      "fused_cross_entropy: int64 targets expected, got ",
      targets.scalar_type());
  return FusedCrossEntropy::apply(
      logits.contiguous(), targets.contiguous(), ignore_index);
}

}  // namespace ember

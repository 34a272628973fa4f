#include "ember/train/adamw.hpp"

#include <cmath>
#include <map>
#include <tuple>

#include "adamw_kernel.hpp"
#include <ATen/Parallel.h>
#include <ATen/ops/scalar_tensor.h>
#include <ATen/ops/zeros_like.h>
#include <c10/core/GradMode.h>
#include <fmt/core.h>
#include <torch/version.h>

#include <ember/util/error.hpp>

#if TORCH_VERSION_MAJOR >= 2
#include <ATen/ops/_fused_adamw.h>
#define EMBER_HAS_FUSED_ADAMW 1
#if TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 4
#define EMBER_HAS_FUSED_ADAMW_CPU 1
#endif
#endif

namespace ember {

bool aten_fused_adamw_available(const c10::Device& device) {
#if defined(EMBER_HAS_FUSED_ADAMW_CPU)
  if (device.is_cpu()) return true;
#endif
#if defined(EMBER_HAS_FUSED_ADAMW)
  if (device.is_cuda()) return true;
#endif
  (void)device;
  return false;
}

AdamW::AdamW(NamedTensors params, AdamWOptions options)
    : params_(std::move(params)), options_(options) {
  for (const auto& entry : params_) {
    if (options_.kernel == AdamWKernel::aten_fused &&
        !aten_fused_adamw_available(entry.second.device())) {
      throw Error(fmt::format(
          "AdamW: this LibTorch ({}) has no fused AdamW kernel for {} "
          "tensors ('{}'); it needs LibTorch 2.0+ for CUDA, 2.4+ for the CPU",
          TORCH_VERSION,
          entry.second.device().str(),
          entry.first));
    }
    exp_avg_.push_back(
        at::zeros_like(entry.second, at::MemoryFormat::Contiguous));
    exp_avg_sq_.push_back(
        at::zeros_like(entry.second, at::MemoryFormat::Contiguous));
  }
}

void AdamW::zero_grad() {
  for (auto& entry : params_) entry.second.mutable_grad() = at::Tensor();
}

void AdamW::step() {
  begin_step();
  // ATen's fused kernel takes lists of one device and dtype: one call each.
  std::map<
      std::tuple<c10::DeviceType, c10::DeviceIndex, at::ScalarType>,
      std::vector<size_t>>
      fused;
  for (size_t k = 0; k < params_.size(); ++k) {
    const auto& param = params_[k].second;
    if (!param.grad().defined()) continue;
    if (takes_aten_fused(k)) {
      const auto& device = param.device();
      fused[{device.type(), device.index(), param.scalar_type()}].push_back(k);
    } else {
      update_unfused(k);
    }
  }
  for (const auto& group : fused) update_fused(group.second);
}

bool AdamW::takes_aten_fused(size_t k) const {
  const auto& param = params_[k].second;
  const auto& grad = param.grad();
  if (grad.defined() && grad.is_sparse()) return false;  // tensor ops take it
  if (options_.kernel == AdamWKernel::aten_fused) return true;
  return param.device().is_cuda() && aten_fused_adamw_available(param.device());
}

void AdamW::begin_step() {
  ++step_;
  const double bias_correction1 =
      1.0 - std::pow(options_.beta1, static_cast<double>(step_));
  const double bias_correction2 =
      1.0 - std::pow(options_.beta2, static_cast<double>(step_));
  step_size_ = options_.lr / bias_correction1;
  bias_correction2_sqrt_ = std::sqrt(bias_correction2);
  c10::NoGradGuard no_grad;
  for (auto& steps : fused_steps_) steps.fill_(static_cast<double>(step_));
}

const at::Tensor& AdamW::fused_step(const c10::Device& device) {
  for (const auto& steps : fused_steps_) {
    if (steps.device() == device) return steps;
  }
  fused_steps_.push_back(at::scalar_tensor(
      static_cast<double>(step_),
      at::TensorOptions().dtype(at::kFloat).device(device)));
  return fused_steps_.back();
}

void AdamW::update_fused(const std::vector<size_t>& ks) {
#if defined(EMBER_HAS_FUSED_ADAMW)
  if (ks.empty()) return;
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
  const auto& step = fused_step(params_[ks.front()].second.device());
  for (const size_t k : ks) {
    params.push_back(params_[k].second);
    grads.push_back(params_[k].second.grad());
    exp_avgs.push_back(exp_avg_[k]);
    exp_avg_sqs.push_back(exp_avg_sq_[k]);
    steps.push_back(step);  // read, not advanced, by the kernel
  }
  at::_fused_adamw_(
      params,
      grads,
      exp_avgs,
      exp_avg_sqs,
      /*max_exp_avg_sqs=*/{},
      steps,
      options_.lr,
      options_.beta1,
      options_.beta2,
      options_.weight_decay,
      options_.eps,
      /*amsgrad=*/false,
      /*maximize=*/false);
#else
  (void)ks;
  throw Error("AdamW: this LibTorch has no fused AdamW kernel");
#endif
}

void AdamW::update(const at::Tensor& param) {
  for (size_t k = 0; k < params_.size(); ++k) {
    if (params_[k].second.unsafeGetTensorImpl() ==
        param.unsafeGetTensorImpl()) {
      update(k);
      return;
    }
  }
  throw Error("AdamW::update: a tensor this optimizer does not hold");
}

void AdamW::update(size_t k) {
  if (!params_[k].second.grad().defined()) return;
  if (takes_aten_fused(k)) {
    update_fused({k});
  } else {
    update_unfused(k);
  }
}

void AdamW::update_unfused(size_t k) {
  c10::NoGradGuard no_grad;
  const double lr = options_.lr;
  const double beta1 = options_.beta1;
  const double beta2 = options_.beta2;
  const double step_size = step_size_;
  const double bias_correction2_sqrt = bias_correction2_sqrt_;
  auto& param = params_[k].second;
  const auto& grad = param.grad();
  auto& exp_avg = exp_avg_[k];
  auto& exp_avg_sq = exp_avg_sq_[k];
  const bool fused = param.device().is_cpu() &&
                     param.scalar_type() == at::kFloat &&
                     param.is_contiguous() && grad.is_contiguous() &&
                     grad.scalar_type() == at::kFloat && !grad.is_sparse();
  if (!fused) {
    // PyTorch's _single_tensor_adamw, op for op.
    param.mul_(1 - lr * options_.weight_decay);
    exp_avg.mul_(beta1).add_(grad, 1 - beta1);
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    auto denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(options_.eps);
    param.addcdiv_(exp_avg, denom, -step_size);
    return;
  }
  // The same operations per element, in float as PyTorch's CPU kernels
  // compute them (scalars rounded to float first).
  const AdamWCoefficients c{
      static_cast<float>(1 - lr * options_.weight_decay),
      static_cast<float>(beta1),
      static_cast<float>(1 - beta1),
      static_cast<float>(beta2),
      static_cast<float>(1 - beta2),
      static_cast<float>(bias_correction2_sqrt),
      static_cast<float>(options_.eps),
      static_cast<float>(-step_size)};
  float* p = param.data_ptr<float>();
  const float* g = grad.data_ptr<float>();
  float* m = exp_avg.data_ptr<float>();
  float* v = exp_avg_sq.data_ptr<float>();
  at::parallel_for(0, param.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    adamw_update(c, p + begin, g + begin, m + begin, v + begin, end - begin);
  });
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  out.emplace_back(
      "step", at::scalar_tensor(static_cast<double>(step_), at::kLong));
  for (size_t k = 0; k < params_.size(); ++k) {
    out.emplace_back("exp_avg." + params_[k].first, exp_avg_[k]);
    out.emplace_back("exp_avg_sq." + params_[k].first, exp_avg_sq_[k]);
  }
  return out;
}

void AdamW::load_state(const NamedTensors& state) {
  std::map<std::string, at::Tensor> by_name(state.begin(), state.end());
  auto take = [&](const std::string& name, at::Tensor& into) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      throw Error(fmt::format("optimizer state: missing '{}'", name));
    }
    if (it->second.sizes() != into.sizes()) {
      throw Error(
          fmt::format("optimizer state: '{}' has the wrong shape", name));
    }
    c10::NoGradGuard no_grad;
    into.copy_(it->second);
  };
  auto it = by_name.find("step");
  if (it == by_name.end()) throw Error("optimizer state: missing 'step'");
  step_ = it->second.item<int64_t>();
  for (size_t k = 0; k < params_.size(); ++k) {
    take("exp_avg." + params_[k].first, exp_avg_[k]);
    take("exp_avg_sq." + params_[k].first, exp_avg_sq_[k]);
  }
}

}  // namespace ember

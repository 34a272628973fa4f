#include "ember/nn/dropout.hpp"

#include <cmath>
#include <cstring>
#include <mutex>

#include "dropout_kernel.hpp"
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Config.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/ones.h>
#include <torch/nn/functional/dropout.h>

namespace ember {

namespace {

// 1 / (1 - p) as ATen's noise.div_(1 - p) computes it in x's dtype, as bits.
template <typename Bits>
Bits kept_value_bits(const at::Tensor& x, double p) {
  const auto one = at::ones({1}, x.options()).div_(1 - p);
  Bits bits;
  std::memcpy(&bits, one.data_ptr(), sizeof bits);
  return bits;
}

// The noise tensor ATen's _dropout builds: bernoulli_(1 - p), then / (1 - p).
at::Tensor noise_like(const at::Tensor& x, double p) {
  auto noise = at::empty(x.sizes(), x.options());
  const double keep = 1 - p;
  const auto threshold = static_cast<uint64_t>(std::ceil(std::ldexp(keep, 53)));
  const bool fp32 = x.scalar_type() == at::kFloat;
  const uint32_t kept32 = fp32 ? kept_value_bits<uint32_t>(x, p) : 0;
  const uint16_t kept16 = fp32 ? 0 : kept_value_bits<uint16_t>(x, p);
  auto* gen = at::check_generator<at::CPUGeneratorImpl>(
      at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(gen->mutex_);
  auto engine = gen->engine();
  auto state = engine.data();
  const MersenneState s{state.state_.data(), &state.left_, &state.next_};
  if (fp32) {
    bernoulli_mask(
        s,
        threshold,
        kept32,
        static_cast<uint32_t*>(noise.data_ptr()),
        noise.numel());
  } else {
    bernoulli_mask(
        s,
        threshold,
        kept16,
        static_cast<uint16_t*>(noise.data_ptr()),
        noise.numel());
  }
  engine.set_data(state);
  gen->set_engine(engine);
  return noise;
}

}  // namespace

bool draws_own_mask(const at::Tensor& x) {
#if AT_MKL_ENABLED()
  (void)x;
  return false;
#else
  // Contiguous: ATen's mask is empty_like(x), filled in memory order, so
  // for other strides its draws land on other elements.
  return x.device().is_cpu() && x.layout() == at::kStrided &&
         x.is_contiguous() &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
#endif
}

at::Tensor dropout(const at::Tensor& x, double p, bool training) {
  if (!training || !(p > 0 && p < 1) || x.numel() == 0 || !draws_own_mask(x))
    return torch::nn::functional::dropout(
        x, torch::nn::functional::DropoutFuncOptions().p(p).training(training));
  return x * noise_like(x, p);
}

at::Tensor DropoutImpl::forward(at::Tensor input) {
  if (options.inplace())
    return torch::nn::DropoutImpl::forward(std::move(input));
  return ember::dropout(input, options.p(), is_training());
}

}  // namespace ember

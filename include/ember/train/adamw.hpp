// AdamW with PyTorch 1.13's update (torch/optim/adamw.py _single_tensor_adamw,
// defaults betas (0.9, 0.999), eps 1e-8, no amsgrad): the same arithmetic,
// element by element, fused into one pass over each float32 CPU tensor
// instead of nine (bandwidth: the (V, D) tables dominate). CUDA tensors take
// ATen's fused AdamW kernel (at::_fused_adamw_, torch.optim.AdamW(fused=True):
// LibTorch 2.0 and later; one launch for all parameters), other tensors
// PyTorch's tensor-op path. zero_grad() drops the gradients (set_to_none),
// which changes no value.
// Leaves out: amsgrad, maximize, parameter groups.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/types.h>  // torch::Tensor

#include <ember/checkpoint/checkpoint.hpp>

namespace ember {

/// Which code updates a parameter.
enum class AdamWKernel {
  /// ember's one-pass loop for contiguous float32 CPU tensors, ATen's fused
  /// kernel for CUDA tensors where the LibTorch has it, tensor ops otherwise.
  automatic,
  /// ATen's fused kernel for every tensor (CPU too on LibTorch 2.4+); the
  /// constructor throws ember::Error where this LibTorch has none.
  aten_fused,
};

struct AdamWOptions {
  double lr = 1e-3;
  double weight_decay = 1e-2;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  AdamWKernel kernel = AdamWKernel::automatic;
};

/// Whether this LibTorch has ATen's fused AdamW for tensors on `device`
/// (CUDA: 2.0 and later; CPU: 2.4 and later).
bool aten_fused_adamw_available(const c10::Device& device);

class AdamW {
 public:
  /// `params`: named leaf tensors with requires_grad
  /// (Module::named_parameters).
  AdamW(NamedTensors params, AdamWOptions options);

  /// Drops every gradient (like zero_grad(set_to_none=True)).
  void zero_grad();
  /// One update of every parameter that has a gradient.
  void step();

  /// The same update in parts, so that it can start on some parameters while
  /// the gradients of others are still being reduced: begin_step() once, then
  /// update() for each parameter (any order, each at most once). Together
  /// they compute exactly what step() does.
  void begin_step();
  /// Updates one parameter (given as in `params`) if it has a gradient;
  /// throws ember::Error for a tensor the optimizer does not hold.
  void update(const at::Tensor& param);

  /// exp_avg.<name>, exp_avg_sq.<name> and "step" (int64 scalar), for a
  /// checkpoint.
  NamedTensors state() const;
  /// Restores state(); throws ember::Error when a name or shape differs.
  void load_state(const NamedTensors& state);

  /// The rate of the coming steps (param_group["lr"] = lr in the book's
  /// appendix D): a schedule sets it before each step.
  void set_lr(double lr) {
    options_.lr = lr;
  }
  double lr() const {
    return options_.lr;
  }

  int64_t num_steps() const {
    return step_;
  }

 private:
  NamedTensors params_;
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;
  AdamWOptions options_;
  int64_t step_ = 0;
  // Set by begin_step() for the step under way.
  double step_size_ = 0;
  double bias_correction2_sqrt_ = 1;

  // The float32 step count on each device ATen's fused kernel runs on (it
  // reads the step from a tensor), set by begin_step().
  std::vector<at::Tensor> fused_steps_;

  bool takes_aten_fused(size_t k) const;
  /// Updates parameter k if it has a gradient, through the kernel it takes.
  void update(size_t k);
  /// ember's one-pass loop or PyTorch's tensor ops (k has a gradient).
  void update_unfused(size_t k);
  /// One call of ATen's fused kernel for parameters `ks` (same device and
  /// dtype, each with a gradient).
  void update_fused(const std::vector<size_t>& ks);
  const at::Tensor& fused_step(const c10::Device& device);
};

}  // namespace ember

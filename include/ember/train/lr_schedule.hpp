// The learning rate of each optimizer step: the book's appendix-D
// train_model (rasbt LLMs-from-scratch appendix-D, "D.4 Putting it all
// together"): linear warmup from initial_lr to the peak (train.lr), then
// constant or a half cosine down to min_lr; plus when it clips the gradients
// (the corrected `global_step >= warmup_steps`). Plain C++17, no LibTorch.
// Leaves out: other decays (linear, inverse sqrt), restarts, per-group rates.
#pragma once

#include <cstdint>

#include <ember/config/config.hpp>

namespace ember {

class LrSchedule {
 public:
  /// `total_steps`: the optimizer steps of the whole run (epochs x steps per
  /// epoch, or train.max_steps when smaller); warmup_ratio is taken of it as
  /// the book does, int(0.2 * total_steps).
  ///   LrSchedule s(t /* cosine, lr 1e-3, warmup_ratio 0.2 */, 135);
  ///   s.warmup_steps() == 27; s.lr(27) == 1e-3
  LrSchedule(const TrainConfig& train, int64_t total_steps);

  /// The rate of optimizer step `s` (0-based, the book's global_step), set
  /// before its forward pass:
  ///   s < warmup: initial_lr + s * ((peak - initial_lr) / warmup)
  ///   else constant: peak; cosine: min_lr + (peak - min_lr) * 0.5 *
  ///   (1 + cos(pi * (s - warmup) / (total - warmup)))
  double lr(int64_t s) const;

  /// Whether step `s` clips its gradients (train.grad_clip > 0 and, with
  /// grad_clip_after_warmup, s >= warmup_steps).
  bool clips(int64_t s) const;

  int64_t warmup_steps() const {
    return warmup_steps_;
  }
  int64_t total_steps() const {
    return total_steps_;
  }
  /// False for a constant rate with no warmup: the run of train_model_simple.
  bool varies() const {
    return cosine_ || warmup_steps_ > 0;
  }
  /// True when lr(s) depends on total_steps (cosine, or warmup_ratio), so a
  /// run that changes its length changes its rates.
  bool depends_on_total() const {
    return cosine_ || ratio_;
  }

 private:
  bool cosine_ = false;
  bool ratio_ = false;
  double peak_ = 0;
  double initial_ = 0;
  double min_ = 0;
  double clip_ = 0;
  bool clip_after_warmup_ = true;
  int64_t warmup_steps_ = 0;
  int64_t total_steps_ = 0;
};

}  // namespace ember

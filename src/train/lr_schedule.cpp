#include "ember/train/lr_schedule.hpp"

#include <cmath>

namespace ember {

LrSchedule::LrSchedule(const TrainConfig& train, int64_t total_steps)
    : cosine_(train.schedule.lr_schedule == "cosine"),
      ratio_(train.schedule.warmup_ratio > 0),
      peak_(train.optimizer.lr),
      initial_(train.schedule.initial_lr),
      min_(train.schedule.min_lr),
      clip_(train.optimizer.grad_clip),
      clip_after_warmup_(train.optimizer.grad_clip_after_warmup),
      warmup_steps_(train.schedule.warmup_steps),
      total_steps_(total_steps) {
  // The book: warmup_steps = int(0.2 * total_steps) (truncation).
  if (ratio_) {
    warmup_steps_ = static_cast<int64_t>(
        train.schedule.warmup_ratio * static_cast<double>(total_steps));
  }
}

double LrSchedule::lr(int64_t s) const {
  if (s < warmup_steps_) {
    // The book's order of operations: lr_increment first, then the sum.
    const double increment =
        (peak_ - initial_) / static_cast<double>(warmup_steps_);
    return initial_ + static_cast<double>(s) * increment;
  }
  if (!cosine_) return peak_;
  const double progress = static_cast<double>(s - warmup_steps_) /
                          static_cast<double>(total_steps_ - warmup_steps_);
  return min_ + (peak_ - min_) * 0.5 * (1 + std::cos(M_PI * progress));
}

bool LrSchedule::clips(int64_t s) const {
  return clip_ > 0 && (!clip_after_warmup_ || s >= warmup_steps_);
}

}  // namespace ember

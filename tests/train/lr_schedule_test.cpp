// The appendix-D learning-rate schedule and when it clips (LrSchedule).
#include <cmath>

#include <catch2/catch.hpp>

#include <ember/config/config.hpp>
#include <ember/train/lr_schedule.hpp>

namespace {
// The book's appendix-D run: peak 1e-3 (it names it peak_lr = 0.001),
// initial_lr and min_lr 1e-5, 20% warmup over 15 epochs of 9 batches.
ember::TrainConfig book_d4() {
  ember::TrainConfig t;
  t.optimizer.lr = 1e-3;
  t.schedule.lr_schedule = "cosine";
  t.schedule.warmup_ratio = 0.2;
  t.schedule.initial_lr = 1e-5;
  t.schedule.min_lr = 1e-5;
  t.optimizer.grad_clip = 1.0;
  return t;
}
}  // namespace

TEST_CASE("LrSchedule: the book's warmup and cosine decay", "[schedule]") {
  const ember::LrSchedule s(book_d4(), 135);
  CHECK(s.warmup_steps() == 27);  // the book prints int(0.2 * 135) = 27
  CHECK(s.total_steps() == 135);
  CHECK(s.varies());
  CHECK(s.depends_on_total());
  // Exact doubles: the book's expressions, evaluated in its order.
  CHECK(s.lr(0) == 1e-5);
  CHECK(s.lr(1) == 1e-5 + 1 * ((1e-3 - 1e-5) / 27));
  CHECK(s.lr(26) == 1e-5 + 26 * ((1e-3 - 1e-5) / 27));
  CHECK(s.lr(27) == 1e-3);  // cos(0) = 1: the peak, the first cosine step
  const double mid = 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + std::cos(M_PI * 0.5));
  CHECK(s.lr(27 + 54) == mid);
  // The last step (134) stays above min_lr; step 135 would reach it.
  CHECK(s.lr(134) > 1e-5);
  CHECK(s.lr(134) < 1.1e-5);
  CHECK(std::fabs(s.lr(135) - 1e-5) < 1e-18);
  // Decreasing after the warmup, increasing during it.
  for (int64_t k = 1; k < 135; ++k) {
    if (k < 27) CHECK(s.lr(k) > s.lr(k - 1));
    if (k > 27) CHECK(s.lr(k) < s.lr(k - 1));
  }
}

TEST_CASE(
    "LrSchedule: clipping from the first step after the warmup", "[schedule]") {
  ember::TrainConfig t = book_d4();
  const ember::LrSchedule s(t, 135);
  CHECK_FALSE(s.clips(26));
  CHECK(s.clips(27));  // the corrected book: global_step >= warmup_steps
  t.optimizer.grad_clip_after_warmup = false;
  CHECK(ember::LrSchedule(t, 135).clips(0));
  t.optimizer.grad_clip = 0;
  CHECK_FALSE(ember::LrSchedule(t, 135).clips(100));
}

TEST_CASE("LrSchedule: constant, with and without warmup steps", "[schedule]") {
  ember::TrainConfig t;  // the defaults: train_model_simple
  const ember::LrSchedule plain(t, 100);
  CHECK_FALSE(plain.varies());
  CHECK_FALSE(plain.depends_on_total());
  CHECK(plain.lr(0) == t.optimizer.lr);
  CHECK(plain.lr(99) == t.optimizer.lr);
  CHECK_FALSE(plain.clips(0));
  t.schedule.warmup_steps = 4;
  t.schedule.initial_lr = 0;
  const ember::LrSchedule warm(t, 100);
  CHECK(warm.varies());
  CHECK_FALSE(warm.depends_on_total());  // a step count, not a share
  CHECK(warm.lr(0) == 0);
  CHECK(warm.lr(2) == 2 * (t.optimizer.lr / 4));
  CHECK(warm.lr(4) == t.optimizer.lr);
  CHECK(warm.lr(99) == t.optimizer.lr);
  // A warmup longer than the run never reaches the peak.
  CHECK(ember::LrSchedule(t, 3).lr(2) < t.optimizer.lr);
}

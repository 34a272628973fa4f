// ember::AdamW (one fused pass per tensor) against LibTorch's
// torch::optim::AdamW, and its per-tensor update used by the torchrun step.
#include <catch2/catch.hpp>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include <ember/train/adamw.hpp>
#include <ember/util/error.hpp>

TEST_CASE("AdamW: matches torch::optim::AdamW step for step", "[optim]") {
  torch::manual_seed(0);
  auto w = torch::randn({300, 7});
  auto a = w.clone().requires_grad_(true);
  auto b = w.clone().requires_grad_(true);
  ember::AdamW ours({{"w", a}}, {4e-4, 0.1});
  torch::optim::AdamW ref(
      {b}, torch::optim::AdamWOptions(4e-4).weight_decay(0.1));
  for (int i = 0; i < 20; ++i) {
    const auto target = torch::randn({300, 7});
    ours.zero_grad();
    ref.zero_grad();
    ((a - target) * (a - target)).sum().backward();
    ((b - target) * (b - target)).sum().backward();
    ours.step();
    ref.step();
  }
  // Same float arithmetic per element; 1e-6 allows the last-bit differences
  // of vectorized kernels over 20 steps.
  CHECK(torch::allclose(a, b, 0, 1e-6));
  CHECK(ours.num_steps() == 20);
  // state round trip
  ember::AdamW other({{"w", a}}, {4e-4, 0.1});
  other.load_state(ours.state());
  CHECK(other.num_steps() == 20);
  CHECK_THROWS_WITH(
      ember::AdamW({{"v", a}}, {}).load_state(ours.state()),
      "optimizer state: missing 'exp_avg.v'");
}

TEST_CASE("AdamW: begin_step + update in any order is step()", "[optim]") {
  torch::manual_seed(1);
  auto w = torch::randn({50, 3});
  auto v = torch::randn({4});
  auto w1 = w.clone().requires_grad_(true), v1 = v.clone().requires_grad_(true);
  auto w2 = w.clone().requires_grad_(true), v2 = v.clone().requires_grad_(true);
  ember::AdamW whole({{"w", w1}, {"v", v1}}, {1e-2, 0.1});
  ember::AdamW parts({{"w", w2}, {"v", v2}}, {1e-2, 0.1});
  for (int i = 0; i < 5; ++i) {
    whole.zero_grad();
    parts.zero_grad();
    (w1 * w1 * (i + 1)).sum().backward();
    (w2 * w2 * (i + 1)).sum().backward();
    if (i % 2 == 0) {  // v gets a gradient every other step only
      (v1 * 3).sum().backward();
      (v2 * 3).sum().backward();
    }
    whole.step();
    parts.begin_step();
    parts.update(v2);  // the reverse of the registration order
    parts.update(w2);
  }
  CHECK(torch::equal(w1, w2));
  CHECK(torch::equal(v1, v2));
  CHECK(parts.num_steps() == 5);
  CHECK_THROWS_WITH(
      parts.update(torch::zeros({2})),
      "AdamW::update: a tensor this optimizer does not hold");
}

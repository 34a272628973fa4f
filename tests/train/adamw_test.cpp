// ember::AdamW (one fused pass per tensor) against LibTorch's
// torch::optim::AdamW, and its per-tensor update used by the torchrun step.
#include <cmath>
#include <vector>

#include "skip.hpp"
#include <catch2/catch.hpp>
#include <torch/cuda.h>
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

namespace {

// Ten steps of ember::AdamW with `options`, taken as one step() and as
// begin_step() + update() per tensor, against torch::optim::AdamW on the
// CPU: a (300, 7) weight on `w_device` and a (7) bias on `v_device`.
// Returns the weight after the ten steps.
torch::Tensor check_ten_steps_against_torch(
    const ember::AdamWOptions& options,
    const torch::Device& w_device,
    const torch::Device& v_device) {
  torch::manual_seed(2);
  const auto w = torch::randn({300, 7}), v = torch::randn({7});
  auto on = [](const torch::Tensor& t, const torch::Device& device) {
    return t.clone().to(device).requires_grad_(true);  // a copy each
  };
  auto w1 = on(w, w_device), v1 = on(v, v_device);
  auto w2 = on(w, w_device), v2 = on(v, v_device);
  auto w3 = on(w, torch::kCPU), v3 = on(v, torch::kCPU);
  ember::AdamW whole({{"w", w1}, {"v", v1}}, options);
  ember::AdamW parts({{"w", w2}, {"v", v2}}, options);
  torch::optim::AdamW ref(
      {w3, v3},
      torch::optim::AdamWOptions(options.lr)
          .weight_decay(options.weight_decay));
  for (int i = 0; i < 10; ++i) {
    const auto target = torch::randn({300, 7});
    whole.zero_grad();
    parts.zero_grad();
    ref.zero_grad();
    for (auto* p : {&w1, &w2, &w3}) {
      ((*p - target.to(p->device())).pow(2)).sum().backward();
    }
    for (auto* p : {&v1, &v2, &v3}) (*p * (i + 1)).sum().backward();
    whole.step();
    ref.step();
    parts.begin_step();
    parts.update(v2);
    parts.update(w2);
  }
  CHECK(torch::allclose(w1.cpu(), w3, 0, 1e-6));
  CHECK(torch::allclose(v1.cpu(), v3, 0, 1e-6));
  CHECK(torch::equal(w1, w2));  // one call for both or one each: same bits
  CHECK(torch::equal(v1, v2));
  // The moments it keeps are the state a checkpoint saves.
  ember::AdamW reloaded({{"w", w1}, {"v", v1}}, options);
  reloaded.load_state(whole.state());
  CHECK(reloaded.num_steps() == 10);
  return w1.detach();
}

}  // namespace

// ATen's fused kernel (the CUDA route on LibTorch 2.x) checked on the CPU,
// where LibTorch 2.4+ has it too; an older LibTorch must refuse it by name.
TEST_CASE(
    "AdamW: ATen's fused kernel equals torch::optim::AdamW after 10 steps",
    "[optim]") {
  ember::AdamWOptions fused{4e-4, 0.1};
  fused.kernel = ember::AdamWKernel::aten_fused;
  if (!ember::aten_fused_adamw_available(torch::kCPU)) {
    auto w = torch::randn({3}).requires_grad_(true);
    CHECK_THROWS_WITH(
        ember::AdamW({{"w", w}}, fused),
        Catch::Contains("has no fused AdamW kernel for cpu tensors ('w')"));
    return;
  }
  check_ten_steps_against_torch(fused, torch::kCPU, torch::kCPU);
}

// What `ember train` does on a GPU: the CUDA weight takes ATen's fused
// kernel (LibTorch 2.0+; tensor ops before), the CPU bias ember's loop, in
// one optimizer; both equal PyTorch's AdamW on the CPU. That the automatic
// choice is the fused kernel shows in the bits: the weight's are those of
// an optimizer told to take it (tensor ops round otherwise).
TEST_CASE(
    "AdamW: CUDA parameters equal torch::optim::AdamW on the CPU after 10 "
    "steps",
    "[optim][cuda]") {
  if (!torch::cuda::is_available()) {
    EMBER_SKIP_CASE(
        "AdamW on CUDA", "no CUDA device (torch::cuda::is_available)");
  }
  const auto automatic =
      check_ten_steps_against_torch({4e-4, 0.1}, torch::kCUDA, torch::kCPU);
  if (ember::aten_fused_adamw_available(torch::kCUDA)) {
    ember::AdamWOptions fused{4e-4, 0.1};
    fused.kernel = ember::AdamWKernel::aten_fused;
    const auto told =
        check_ten_steps_against_torch(fused, torch::kCUDA, torch::kCUDA);
    CHECK(torch::equal(automatic, told));
  }
}

// The float32 CPU update runs a vectorized copy of its loop chosen for the
// CPU (AVX-512, AVX2 or SSE2; src/train/adamw_kernel.hpp). Each must give
// the bits of the plain arithmetic, element by element, tail included:
// resume and torchrun ranks on other CPUs depend on it.
TEST_CASE(
    "AdamW: the vectorized update gives the plain arithmetic's bits",
    "[optim]") {
  const double lr = 4e-4, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (const int64_t n : {int64_t{7}, int64_t{1031}, int64_t{70001}}) {
    torch::manual_seed(n);
    auto w = torch::randn({n}).requires_grad_(true);
    std::vector<float> p(w.data_ptr<float>(), w.data_ptr<float>() + n);
    std::vector<float> m(static_cast<size_t>(n)), v(static_cast<size_t>(n));
    ember::AdamW opt({{"w", w}}, {lr, wd});
    for (int step = 1; step <= 3; ++step) {
      // Gradients spread over many binades, zeros included.
      auto grad = torch::randn({n}) * torch::pow(10.0, torch::randn({n}) * 3);
      grad.index_put_({torch::arange(0, n, 5)}, 0.0f);
      w.mutable_grad() = grad;
      opt.step();
      const auto step_size = static_cast<float>(-lr / (1 - std::pow(b1, step)));
      const auto bc2 = static_cast<float>(std::sqrt(1 - std::pow(b2, step)));
      const float* g = grad.data_ptr<float>();
      for (size_t i = 0; i < p.size(); ++i) {
        const float mi =
            m[i] * static_cast<float>(b1) + static_cast<float>(1 - b1) * g[i];
        const float vi = v[i] * static_cast<float>(b2) +
                         static_cast<float>(1 - b2) * g[i] * g[i];
        const float denom = std::sqrt(vi) / bc2 + static_cast<float>(eps);
        p[i] =
            p[i] * static_cast<float>(1 - lr * wd) + step_size * (mi / denom);
        m[i] = mi;
        v[i] = vi;
      }
    }
    const auto expected = torch::from_blob(p.data(), {n}, torch::kFloat);
    INFO("n = " << n);
    CHECK(torch::equal(w.detach(), expected));
  }
}

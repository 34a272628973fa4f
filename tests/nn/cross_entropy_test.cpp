// nn/cross_entropy.hpp against ATen's cross_entropy on the same values: the
// loss and the gradient, fp32 and bf16 logits, ignored rows, bad targets;
// and GPTModel's bf16 loss path (forward_for_loss + lm_loss) against the
// fp32 copy it replaces.
#include <cmath>

#include <catch2/catch.hpp>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <ember/nn/cross_entropy.hpp>
#include <ember/nn/gpt_model.hpp>

namespace F = torch::nn::functional;

namespace {

// Targets in [0, v), every third row -100 (padding, as chapter 7's batches).
torch::Tensor targets_with_padding(int64_t n, int64_t v) {
  auto t = torch::randint(0, v, {n}, torch::kLong);
  t.index_put_({torch::arange(0, n, 3)}, -100);
  return t;
}

// The reference: ATen's cross_entropy on the fp32 values, and its gradient.
std::pair<torch::Tensor, torch::Tensor> reference(
    const torch::Tensor& logits, const torch::Tensor& targets) {
  auto x = logits.to(torch::kFloat).detach().requires_grad_(true);
  auto loss = F::cross_entropy(x, targets);
  loss.backward(torch::full({}, 0.75));
  return {loss.detach(), x.grad()};
}

}  // namespace

TEST_CASE("fused_cross_entropy: ATen's loss and gradient", "[loss]") {
  torch::manual_seed(5);
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    for (const auto& [n, v] :
         {std::pair<int64_t, int64_t>{37, 1000},
          std::pair<int64_t, int64_t>{5, 50257},
          std::pair<int64_t, int64_t>{4, 17}}) {
      INFO("dtype " << dtype << ", N " << n << ", V " << v);
      // Logits spread like a trained model's and beyond.
      const auto logits = (torch::randn({n, v}) * 8).to(dtype);
      const auto targets = targets_with_padding(n, v);
      const auto [want, want_grad] = reference(logits, targets);
      auto x = logits.clone().requires_grad_(true);
      const auto loss = ember::fused_cross_entropy(x, targets);
      loss.backward(torch::full({}, 0.75));
      CHECK(loss.scalar_type() == torch::kFloat);
      CHECK(loss.item<double>() == Approx(want.item<double>()).epsilon(2e-6));
      REQUIRE(x.grad().scalar_type() == dtype);
      if (dtype == torch::kFloat) {
        CHECK(torch::allclose(x.grad(), want_grad, 1e-5, 1e-9));
      } else {
        // bf16: the fp32 gradient rounded once, up to one bf16 step where
        // the two float values straddle a rounding boundary.
        const auto diff = (x.grad().to(torch::kFloat) - want_grad).abs();
        const auto step = want_grad.abs() * std::ldexp(1.0, -7) + 1e-30;
        CHECK((diff <= step).all().item<bool>());
      }
      if (dtype == torch::kBFloat16) {
        // The bf16 gradient is the same float values rounded to nearest
        // even, as c10::BFloat16 rounds: the fp32 kernel's, converted.
        auto f = logits.to(torch::kFloat).requires_grad_(true);
        ember::fused_cross_entropy(f, targets).backward(torch::full({}, 0.75));
        CHECK(torch::equal(x.grad(), f.grad().to(torch::kBFloat16)));
      }
      // Ignored rows take no gradient at all.
      const auto ignored = targets.eq(-100);
      CHECK(x.grad().index({ignored}).eq(0).all().item<bool>());
    }
  }
}

TEST_CASE("fused_cross_entropy: NaN, all ignored, bad targets", "[loss]") {
  auto logits = torch::randn({3, 10}).to(torch::kBFloat16);
  auto all_ignored = logits.clone().requires_grad_(true);
  const auto nan_loss = ember::fused_cross_entropy(
      all_ignored, torch::full({3}, -100, torch::kLong));
  CHECK(std::isnan(nan_loss.item<float>()));
  nan_loss.backward();  // no row counted: no gradient, and no crash
  CHECK(all_ignored.grad().eq(0).all().item<bool>());
  auto with_nan = logits.clone();
  with_nan[1][4] = std::nanf("");
  CHECK(std::isnan(ember::fused_cross_entropy(
                       with_nan, torch::tensor({1, 2, 3}, torch::kLong))
                       .item<float>()));
  CHECK_THROWS_WITH(
      ember::fused_cross_entropy(
          logits, torch::tensor({1, 10, 3}, torch::kLong)),
      Catch::Contains("Target 10 is out of bounds."));
  CHECK_THROWS_WITH(
      ember::fused_cross_entropy(logits, torch::tensor({1, 2}, torch::kLong)),
      Catch::Contains("logits (N, V) and targets (N) expected"));
}

TEST_CASE(
    "GPTModel: bf16 loss reads bf16 logits, as the fp32 copy would",
    "[loss][precision]") {
  torch::manual_seed(11);
  ember::GPTModel model(
      ember::GPTModelOptions(300, 16, 32).n_layers(2).n_heads(2));
  model->eval();  // no dropout: the two forwards must see the same values
  model->set_precision(ember::Precision::bf16);
  const auto ids = torch::randint(0, 300, {2, 16}, torch::kLong);
  const auto targets = torch::randint(0, 300, {2, 16}, torch::kLong);
  const auto raw = model->forward_for_loss(ids);
  CHECK(raw.scalar_type() == torch::kBFloat16);
  const auto copied = model->forward(ids);
  CHECK(copied.scalar_type() == torch::kFloat);
  CHECK(torch::equal(raw.to(torch::kFloat), copied));
  const auto fused = ember::lm_loss(raw, targets);
  const auto plain = ember::lm_loss(copied, targets);
  CHECK(fused.item<double>() == Approx(plain.item<double>()).epsilon(2e-6));
  // fp32 precision: the same logits as forward(), to the bit.
  model->set_precision(ember::Precision::fp32);
  CHECK(torch::equal(model->forward_for_loss(ids), model->forward(ids)));
}

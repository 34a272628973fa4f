// nn/precision.hpp: parsing, AutocastScope's state handling, and a model
// computing in bf16 (autocast runs on any CPU, natively or emulated; the
// hardware check is check_precision's, tested in cli.train_bf16).
#include <ATen/ops/matmul.h>
#include <catch2/catch.hpp>
#include <torch/utils.h>

#include <ember/nn/feed_forward.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/nn/precision.hpp>
#include <ember/util/error.hpp>

using ember::AutocastScope;
using ember::Precision;

namespace {
bool cpu_autocast() {
  return ember::autocast_active(c10::Device(c10::kCPU));
}
}  // namespace

TEST_CASE("Precision: names", "[precision]") {
  CHECK(ember::parse_precision("fp32", "k") == Precision::fp32);
  CHECK(ember::parse_precision("bf16", "k") == Precision::bf16);
  CHECK(std::string(ember::precision_name(Precision::bf16)) == "bf16");
  CHECK_THROWS_MATCHES(
      ember::parse_precision("fp16", "--precision"),
      ember::ConfigError,
      Catch::Matchers::Message(
          "--precision: unknown precision 'fp16' (expected fp32 or bf16)"));
}

TEST_CASE("AutocastScope: on inside, restored after, nested", "[precision]") {
  const c10::Device cpu(c10::kCPU);
  REQUIRE_FALSE(cpu_autocast());
  {
    const AutocastScope fp32(Precision::fp32, cpu);
    CHECK_FALSE(cpu_autocast());
  }
  {
    const AutocastScope outer(Precision::bf16, cpu);
    CHECK(cpu_autocast());
    const auto a = torch::ones({4, 4});
    CHECK(at::matmul(a, a).scalar_type() == at::kBFloat16);
    {
      const AutocastScope inner(Precision::bf16, cpu);
      CHECK(cpu_autocast());
    }
    CHECK(cpu_autocast());  // the inner scope restores the outer's state
  }
  CHECK_FALSE(cpu_autocast());
  const auto a = torch::ones({4, 4});
  CHECK(at::matmul(a, a).scalar_type() == at::kFloat);
}

TEST_CASE(
    "GPTModel: bf16 precision gives fp32 logits near fp32's", "[precision]") {
  torch::manual_seed(123);
  ember::GPTModel gpt(ember::GPTModelOptions(64, 8, 32).n_layers(2).n_heads(4));
  gpt->eval();
  const auto ids = torch::randint(0, 64, {2, 8}, torch::kLong);
  const auto fp32 = gpt(ids);
  gpt->set_precision(Precision::bf16);
  const auto bf16 = gpt(ids);
  CHECK(bf16.scalar_type() == at::kFloat);
  CHECK_FALSE(cpu_autocast());
  const double diff = (bf16 - fp32).abs().max().item<double>();
  const double scale = fp32.abs().max().item<double>();
  CHECK(diff > 0);             // the products ran in bf16
  CHECK(diff < 0.02 * scale);  // and only rounding differs
  // The loss backpropagates to the fp32 weights.
  gpt->train();
  ember::lm_loss(gpt(ids), ids).backward();
  const auto& w = gpt->out_head->weight;
  REQUIRE(w.grad().defined());
  CHECK(w.grad().scalar_type() == at::kFloat);
}

// Under bf16 autocast the feed-forward's GELU gets bf16 input. It computes
// in fp32 and rounds once (LibTorch 1.13's bf16 GELU kernel is slower and
// rounds its intermediate steps): value and gradient are the fp32 ones
// rounded to bf16, bit for bit.
TEST_CASE("gelu_tanh: bf16 on the CPU is fp32's, rounded once", "[precision]") {
  torch::manual_seed(3);
  const auto x = (torch::randn({4, 3072}) * 3).to(torch::kBFloat16);
  const auto grad_out = torch::randn({4, 3072}).to(torch::kBFloat16);
  auto a = x.clone().requires_grad_(true);
  const auto y = ember::gelu_tanh(a);
  y.backward(grad_out);
  CHECK(y.scalar_type() == torch::kBFloat16);
  auto b = x.to(torch::kFloat).requires_grad_(true);
  const auto exact = ember::gelu_tanh(b);
  exact.backward(grad_out.to(torch::kFloat));
  CHECK(torch::equal(y, exact.to(torch::kBFloat16)));
  CHECK(torch::equal(a.grad(), b.grad().to(torch::kBFloat16)));
}

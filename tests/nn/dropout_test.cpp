// nn/dropout.hpp against LibTorch's dropout: the same output, gradient and
// generator state afterwards, to the bit, in float32 and bfloat16, from a
// generator in the middle of its 624-word block and across blocks.
#include <catch2/catch.hpp>
#include <torch/nn/functional/dropout.h>
#include <torch/utils.h>

#include <ember/nn/dropout.hpp>

namespace F = torch::nn::functional;

TEST_CASE(
    "dropout: LibTorch's draws, values and gradient, to the bit", "[dropout]") {
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    for (const double p : {0.1, 0.5, 0.0625}) {
      for (const int64_t n : {int64_t{1}, int64_t{311}, int64_t{5000}}) {
        INFO("dtype " << dtype << ", p " << p << ", n " << n);
        torch::manual_seed(42);
        const auto x = torch::randn({n, 3}).to(dtype);
        torch::manual_seed(7);
        (void)torch::rand({static_cast<int64_t>(n % 500)});  // mid-block
        const auto a = x.clone().requires_grad_(true);
        const auto want =
            F::dropout(a, F::DropoutFuncOptions().p(p).training(true));
        const auto next_want = torch::rand({4});
        torch::manual_seed(7);
        (void)torch::rand({static_cast<int64_t>(n % 500)});
        const auto b = x.clone().requires_grad_(true);
        const auto got = ember::dropout(b, p, /*training=*/true);
        const auto next_got = torch::rand({4});
        if (!ember::draws_own_mask(b))
          WARN("a LibTorch with MKL: ember::dropout is ATen's here");
        CHECK(torch::equal(got, want));
        CHECK(torch::equal(next_got, next_want));
        const auto g = torch::randn({n, 3}).to(dtype);
        want.backward(g);
        got.backward(g);
        CHECK(torch::equal(a.grad(), b.grad()));
      }
    }
  }
}

TEST_CASE("dropout: eval, p = 0 and p = 1 as LibTorch's", "[dropout]") {
  const auto x = torch::randn({4, 5});
  CHECK(torch::equal(ember::dropout(x, 0.3, /*training=*/false), x));
  CHECK(torch::equal(ember::dropout(x, 0.0, /*training=*/true), x));
  CHECK(torch::equal(
      ember::dropout(x, 1.0, /*training=*/true), torch::zeros({4, 5})));
  ember::Dropout module(torch::nn::DropoutOptions(0.2));
  module->eval();
  CHECK(torch::equal(module(x), x));
}

// Strides other than row-major (ATen fills empty_like(x) in memory order)
// and the module in training mode: still LibTorch's values.
TEST_CASE(
    "dropout: transposed input and the module, as LibTorch's", "[dropout]") {
  torch::manual_seed(9);
  const auto x = torch::randn({40, 30}).t();
  CHECK_FALSE(ember::draws_own_mask(x));
  torch::manual_seed(1);
  const auto want = F::dropout(x, F::DropoutFuncOptions().p(0.2));
  torch::manual_seed(1);
  CHECK(torch::equal(ember::dropout(x, 0.2, /*training=*/true), want));
  ember::Dropout module(torch::nn::DropoutOptions(0.2));
  const auto y = torch::randn({7, 33});
  torch::manual_seed(2);
  const auto want_y = F::dropout(y, F::DropoutFuncOptions().p(0.2));
  torch::manual_seed(2);
  CHECK(torch::equal(module(y), want_y));
}

// Global gradient-norm clipping (clip_grad_norm), against values worked out
// by hand; tests/cli/train_parity_appendix_d.sh checks it against PyTorch.
#include <ATen/ops/ones.h>
#include <ATen/ops/tensor.h>
#include <catch2/catch.hpp>

#include <ember/train/grad_clip.hpp>

namespace {
at::Tensor with_grad(std::vector<float> g) {
  auto p = at::ones({static_cast<int64_t>(g.size())});
  p.mutable_grad() = at::tensor(g);
  return p;
}
}  // namespace

TEST_CASE(
    "clip_grad_norm: the norm over all gradients, then the scale",
    "[schedule]") {
  // |(3, 4, 12)| = 13.
  const auto a = with_grad({3, 4});
  const auto b = with_grad({12});
  const auto none = at::ones({2});  // no gradient: skipped
  CHECK(ember::clip_grad_norm({a, none, b}, 0.0) == Approx(13.0).epsilon(1e-7));
  CHECK(a.grad()[0].item<float>() == 3.0f);  // 0 = measure only
  CHECK(ember::clip_grad_norm({a, b}, 20.0) == Approx(13.0).epsilon(1e-7));
  CHECK(b.grad()[0].item<float>() == 12.0f);  // under the limit: unchanged
  // Over the limit: times 1.3 / (13 + 1e-6), the returned norm is before.
  CHECK(ember::clip_grad_norm({a, b}, 1.3) == Approx(13.0).epsilon(1e-7));
  CHECK(b.grad()[0].item<float>() == Approx(1.2).epsilon(1e-6));
  CHECK(ember::clip_grad_norm({a, b}, 0.0) == Approx(1.3).epsilon(1e-6));
  CHECK(ember::clip_grad_norm({none}, 1.0) == 0.0);
}

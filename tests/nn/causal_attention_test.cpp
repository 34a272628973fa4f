// model.attention = "fused" (nn/causal_attention.hpp) against the book's
// attention: the same weights from the same seed, logits within 1e-5 and
// gradients within 1e-4 in fp32 with dropout 0; causal; the KV-cache step
// and the last position agree with its forward; dropout on in training
// only.
#include <catch2/catch.hpp>
#include <torch/utils.h>

#include <ember/nn/causal_attention.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/nn/kv_cache.hpp>
#include <ember/nn/multi_head_attention.hpp>
#include <ember/nn/transformer_block.hpp>

namespace {

ember::GPTModelOptions small(const char* attention, double drop = 0.0) {
  // Head size 48: LibTorch 1.13's math path scales by 1/sqrt(h) before the
  // product, the book after it; the same bits where sqrt(h) is a power of
  // two (GPT-2's 64), so a head size where they round differently.
  return ember::GPTModelOptions(97, 32, 96)
      .n_layers(3)
      .n_heads(2)
      .drop_rate(drop)
      .qkv_bias(true)
      .attention(attention);
}

ember::GPTModel seeded(const ember::GPTModelOptions& o) {
  torch::manual_seed(123);
  return ember::GPTModel(o);
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE(
    "fused attention: the book's logits within 1e-5, gradients within 1e-4",
    "[attention]") {
  auto book = seeded(small("multihead"));
  auto fused = seeded(small("fused"));
  const auto pb = book->named_parameters();
  const auto pf = fused->named_parameters();
  REQUIRE(pb.size() == pf.size());
  for (const auto& p : pb) CHECK(torch::equal(p.value(), pf[p.key()]));
  torch::manual_seed(7);
  const auto ids = torch::randint(97, {2, 32}, torch::kLong);
  const auto targets = torch::randint(97, {2, 32}, torch::kLong);
  const auto lb = book->forward(ids);
  const auto lf = fused->forward(ids);
  CHECK(max_diff(lb, lf) < 1e-5);
  ember::lm_loss(lb, targets).backward();
  ember::lm_loss(lf, targets).backward();
  for (const auto& p : pb) {
    INFO(p.key());
    CHECK(max_diff(p.value().grad(), pf[p.key()].grad()) < 1e-4);
  }
}

TEST_CASE("fused attention: token t sees only tokens up to t", "[attention]") {
  torch::manual_seed(3);
  const auto q = torch::randn({2, 3, 8, 4});
  const auto k = torch::randn({2, 3, 8, 4});
  const auto v = torch::randn({2, 3, 8, 4});
  auto k2 = k.clone();
  auto v2 = v.clone();
  k2.select(2, 5).add_(1.0);  // change position 5's key and value only
  v2.select(2, 5).add_(1.0);
  const auto a = ember::causal_attention(q, k, v, 0.0);
  const auto b = ember::causal_attention(q, k2, v2, 0.0);
  CHECK(torch::equal(a.slice(2, 0, 5), b.slice(2, 0, 5)));
  CHECK_FALSE(torch::allclose(a.slice(2, 5, 8), b.slice(2, 5, 8)));
  CHECK_THROWS_WITH(
      ember::causal_attention(q, k.slice(2, 0, 4), v, 0.0),
      Catch::Contains("q, k and v must be (B, H, T, h) alike"));
}

TEST_CASE(
    "fused attention: generation's cache and the last position agree",
    "[attention]") {
  auto fused = seeded(small("fused"));
  fused->eval();
  const torch::NoGradGuard no_grad;
  torch::manual_seed(9);
  const auto ids = torch::randint(97, {2, 12}, torch::kLong);
  const auto whole = fused->forward(ids);
  ember::KVCache cache(3);
  (void)fused->forward_cached(ids.slice(1, 0, 8), cache);
  const auto step = fused->forward_cached(ids.slice(1, 8, 12), cache);
  CHECK(max_diff(step, whole.slice(1, 11, 12)) < 1e-5);
  CHECK(max_diff(fused->forward_last(ids), whole.slice(1, 11, 12)) < 1e-5);
}

TEST_CASE(
    "fused attention: dropout on the weights in training only", "[attention]") {
  const auto options =
      ember::MultiHeadAttentionOptions(32, 32, 16, 2).dropout(0.5);
  torch::manual_seed(5);
  ember::MultiHeadAttention book(options);
  torch::manual_seed(5);
  ember::MultiHeadAttention fused(
      ember::MultiHeadAttentionOptions(options).fused(true));
  const auto x = torch::randn({2, 16, 32});
  book->eval();
  fused->eval();
  const auto quiet = fused(x);
  CHECK(max_diff(quiet, book(x)) < 1e-5);  // no dropout in evaluation
  fused->train();
  CHECK(max_diff(fused(x), quiet) > 1e-3);  // dropout_p reaches the kernel
}

TEST_CASE(
    "fused attention: the registry's name builds the fused module",
    "[attention]") {
  const auto attention = [](ember::GPTModel m) {
    return m->trf_blocks[0]
        ->as<ember::TransformerBlockImpl>()
        ->att.get<ember::MultiHeadAttention>();
  };
  CHECK(attention(seeded(small("fused")))->options().fused());
  CHECK_FALSE(attention(seeded(small("multihead")))->options().fused());
}

// The KV cache (nn/kv_cache.hpp, GPTModel::forward_cached) and generate()
// with and without it.
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>
#include <catch2/catch.hpp>
#include <torch/utils.h>

#include <ember/generate/generate.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/nn/kv_cache.hpp>

using ember::GenerateOptions;
using ember::GPTModel;
using ember::GPTModelOptions;
using ember::KVCache;

namespace {

GPTModel small_model(const std::string& pos_encoding, bool qkv_bias) {
  torch::manual_seed(42);
  GPTModel model(GPTModelOptions(97, 12, 32)
                     .n_layers(2)
                     .n_heads(4)
                     .drop_rate(0.1)
                     .qkv_bias(qkv_bias)
                     .pos_encoding(pos_encoding));
  model->eval();
  return model;
}

// Largest |a - b| over two tensors of one shape.
double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE(
    "KV cache: each step's logits equal a full forward's last position",
    "[generate]") {
  const auto pos = GENERATE(as<std::string>{}, "learned", "sinusoidal");
  const bool bias = GENERATE(false, true);
  CAPTURE(pos, bias);
  auto model = small_model(pos, bias);
  c10::NoGradGuard no_grad;
  torch::manual_seed(7);
  const auto ids = torch::randint(97, {2, 12}, torch::kLong);  // B = 2, T = C
  KVCache cache(2);
  // A 3-token prefill, then one token a step up to the full context.
  auto got = model->forward_cached(ids.narrow(1, 0, 3), cache);
  CHECK(got.sizes() == torch::IntArrayRef({2, 1, 97}));
  CHECK(max_diff(got, model(ids.narrow(1, 0, 3)).narrow(1, 2, 1)) < 1e-5);
  for (int64_t t = 4; t <= 12; ++t) {
    got = model->forward_cached(ids.narrow(1, t - 1, 1), cache);
    const auto want = model(ids.narrow(1, 0, t)).narrow(1, t - 1, 1);
    CAPTURE(t);
    CHECK(max_diff(got, want) < 1e-5);
  }
  CHECK(cache.pos == 12);
  CHECK(cache.layers[0].len == 12);
}

TEST_CASE("KV cache: a step past context_length is an error", "[generate]") {
  auto model = small_model("learned", false);
  c10::NoGradGuard no_grad;
  KVCache cache(2);
  model->forward_cached(torch::zeros({1, 12}, torch::kLong), cache);
  CHECK_THROWS_WITH(
      model->forward_cached(torch::zeros({1, 1}, torch::kLong), cache),
      Catch::Contains("exceeds context_length (got T = 13, expected <= 12)"));
  KVCache wrong_layers(3);
  CHECK_THROWS_WITH(
      model->forward_cached(torch::zeros({1, 1}, torch::kLong), wrong_layers),
      Catch::Contains("a KV cache of 3 layers for a model of 2"));
  cache.reset();
  model->forward_cached(torch::zeros({1, 2}, torch::kLong), cache);
  CHECK_THROWS_WITH(
      model->forward_cached(torch::zeros({2, 1}, torch::kLong), cache),
      Catch::Contains("batch of 2 rows against a cache of 1"));
}

TEST_CASE(
    "generate: the same ids with and without the KV cache, past the "
    "context",
    "[generate]") {
  const auto pos = GENERATE(as<std::string>{}, "learned", "sinusoidal");
  const double temperature = GENERATE(0.0, 1.3);
  CAPTURE(pos, temperature);
  auto model = small_model(pos, true);
  GenerateOptions o;
  o.max_new_tokens = 30;  // 4 + 30 tokens: the window (12) slides 22 times
  o.context_size = 12;
  o.temperature = temperature;
  o.top_k = temperature > 0 ? 10 : 0;
  const auto prompt =
      torch::tensor({{5, 17, 3, 88}, {1, 2, 3, 4}}, torch::kLong);
  o.kv_cache = false;
  torch::manual_seed(11);
  const auto plain = ember::generate(model, prompt, o);
  o.kv_cache = true;
  torch::manual_seed(11);
  const auto cached = ember::generate(model, prompt, o);
  CHECK(plain.sizes() == torch::IntArrayRef({2, 34}));
  CHECK(torch::equal(plain, cached));
  // A window shorter than the model's context slides earlier.
  o.context_size = 5;
  o.kv_cache = false;
  torch::manual_seed(11);
  const auto plain5 = ember::generate(model, prompt, o);
  o.kv_cache = true;
  torch::manual_seed(11);
  CHECK(torch::equal(plain5, ember::generate(model, prompt, o)));
}

TEST_CASE(
    "generate: eos_id stops before the id, with the cache too", "[generate]") {
  auto model = small_model("learned", false);
  GenerateOptions o;
  o.max_new_tokens = 8;
  o.context_size = 12;
  const auto prompt = torch::tensor({{5, 17, 3}}, torch::kLong);
  const auto full = ember::generate(model, prompt, o);
  REQUIRE(full.size(1) == 11);
  const int64_t third = full[0][5].item<int64_t>();  // the third new id
  o.eos_id = third;
  for (const bool kv : {false, true}) {
    o.kv_cache = kv;
    const auto out = ember::generate(model, prompt, o);
    CAPTURE(kv);
    // Stops at the first occurrence of the id among the new ones.
    int64_t first = 3;
    while (full[0][first].item<int64_t>() != third) ++first;
    CHECK(out.size(1) == first);
    CHECK(torch::equal(out, full.narrow(1, 0, first)));
  }
}

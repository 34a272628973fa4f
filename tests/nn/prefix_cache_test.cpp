// nn/prefix_cache.hpp and GPTModel's use of it: rows computed alone and
// handed back by their ids, the budget, which blocks count as frozen, and a
// model's logits with the cache against those without.
#include <ATen/ops/arange.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <catch2/catch.hpp>
#include <torch/utils.h>

#include <ember/nn/adapter.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/nn/precision.hpp>
#include <ember/nn/prefix_cache.hpp>

using ember::PrefixCache;

namespace {

ember::GPTModel tiny_model(double drop_rate) {
  torch::manual_seed(5);
  return ember::GPTModel(ember::GPTModelOptions(97, 12, 16)
                             .n_layers(3)
                             .n_heads(2)
                             .drop_rate(drop_rate)
                             .num_classes(2));
}

// The book's chapter 6: everything frozen, then the last block, the final
// norm and the head trained.
void freeze_all_but_last_block(ember::GPTModel& model) {
  for (auto& p : model->parameters()) p.requires_grad_(false);
  const std::vector<torch::nn::Module*> trained = {
      model->trf_blocks[2].get(),
      model->final_norm.ptr().get(),
      model->out_head.get()};
  for (auto* m : trained) {
    for (auto& p : m->parameters()) p.requires_grad_(true);
  }
}

}  // namespace

TEST_CASE("PrefixCache: rows handed back by their ids", "[prefix]") {
  PrefixCache cache(1, 1 << 20);
  int64_t calls = 0;
  const auto compute = [&](const at::Tensor& missed) {
    ++calls;
    CHECK(ember::row_alone_linears());
    return missed.to(at::kFloat).unsqueeze(-1) * 2.0;  // (M, T) -> (M, T, 1)
  };
  const auto a = at::arange(0, 4, at::kLong).view({1, 4});
  const auto b = at::arange(10, 14, at::kLong).view({1, 4});
  const auto c = at::arange(20, 24, at::kLong).view({1, 4});
  const auto ids = at::cat({a, b, a}, 0);  // a twice in one batch
  const auto first = cache.rows(ids, compute);
  CHECK_FALSE(ember::row_alone_linears());
  CHECK(first.sizes() == at::IntArrayRef({3, 4, 1}));
  CHECK(first.equal(ids.to(at::kFloat).unsqueeze(-1) * 2.0));
  CHECK(calls == 1);
  CHECK(cache.stats().misses == 3);
  CHECK(cache.stats().kept == 2);
  CHECK(cache.stats().bytes == 2 * 4 * 4);
  // b and a kept, c computed: the output in batch order.
  const auto mixed = cache.rows(at::cat({b, c, a}, 0), compute);
  CHECK(calls == 2);
  CHECK(cache.stats().hits == 2);
  CHECK(cache.stats().misses == 4);
  CHECK(mixed.equal(at::cat({b, c, a}, 0).to(at::kFloat).unsqueeze(-1) * 2.0));
}

TEST_CASE("PrefixCache: the budget bounds what is kept", "[prefix]") {
  const auto compute = [](const at::Tensor& row) {
    return row.to(at::kFloat).unsqueeze(-1);
  };
  const auto ids = at::arange(0, 12, at::kLong).view({3, 4});
  PrefixCache none(1, 0);
  none.rows(ids, compute);
  none.rows(ids, compute);
  CHECK(none.stats().misses == 6);
  CHECK(none.stats().kept == 0);
  PrefixCache one_row(1, 16);  // one (1, 4, 1) float row
  one_row.rows(ids, compute);
  CHECK(one_row.stats().kept == 1);
  CHECK(one_row.stats().bytes == 16);
  CHECK_THROWS_AS(PrefixCache(0, 16), c10::ValueError);
}

TEST_CASE(
    "GPTModel: frozen_prefix counts the frozen leading blocks", "[prefix]") {
  auto model = tiny_model(0.0);
  CHECK(model->frozen_prefix() == 0);  // everything trains
  freeze_all_but_last_block(model);
  CHECK(model->frozen_prefix() == 2);
  model->trf_blocks[1]->parameters()[0].requires_grad_(true);
  CHECK(model->frozen_prefix() == 1);
  CHECK_THROWS_AS(
      model->set_prefix_cache(std::make_shared<PrefixCache>(2, 1 << 20)),
      c10::Error);
  model->named_parameters()["tok_emb.weight"].requires_grad_(true);
  CHECK(model->frozen_prefix() == 0);  // the embedding trains
  auto dropping = tiny_model(0.1);
  freeze_all_but_last_block(dropping);
  CHECK(dropping->frozen_prefix() == 0);  // dropout makes them random
}

TEST_CASE(
    "RowAloneLinears: a row's values do not depend on its batch", "[prefix]") {
  // GPT-2 small's width and the book's 81-token texts: OpenBLAS's product
  // of 4 rows rounds some elements differently from that of 1 (checked:
  // without RowAloneLinears this fails).
  torch::manual_seed(3);
  torch::nn::Linear linear(torch::nn::LinearOptions(768, 768));
  const auto x = at::randn({4, 81, 768});
  // A process's first BLAS call may run on another number of threads,
  // which rounds differently: warm up first.
  const auto whole = linear(x);
  const auto batch_of_4 = [&] {
    const ember::RowAloneLinears alone;
    return ember::adapted(linear, x);
  }();
  for (int64_t r = 0; r < 4; ++r) {
    const auto alone = ember::adapted(linear, x.narrow(0, r, 1));
    CHECK(batch_of_4.narrow(0, r, 1).equal(alone));
  }
  CHECK(batch_of_4.allclose(whole, 1e-5, 1e-6));
  // Under autocast too (the weight cast to bf16 once for all rows).
  const ember::AutocastScope bf16(
      ember::Precision::bf16, c10::Device(c10::kCPU));
  const auto bf16_rows = [&] {
    const ember::RowAloneLinears alone;
    return ember::adapted(linear, x);
  }();
  CHECK(bf16_rows.scalar_type() == at::kBFloat16);
  for (int64_t r = 0; r < 4; ++r)
    CHECK(bf16_rows.narrow(0, r, 1).equal(
        ember::adapted(linear, x.narrow(0, r, 1))));
  if (batch_of_4.equal(whole))
    WARN("this BLAS rounds 4 rows as it rounds 1: nothing to tell apart");
}

TEST_CASE("GPTModel: logits with the prefix cache", "[prefix]") {
  auto model = tiny_model(0.0);
  freeze_all_but_last_block(model);
  torch::manual_seed(9);
  const auto ids = at::randint(0, 97, {4, 12}, at::kLong);
  const auto plain = model->forward(ids);
  auto cache = std::make_shared<PrefixCache>(2, 1 << 20);
  model->set_prefix_cache(cache);
  const auto cached = model->forward(ids);
  CHECK(cache->stats().misses == 4);
  CHECK(cached.allclose(plain, 1e-5, 1e-6));
  // The second pass reuses every row, and gradients still reach the
  // trained block.
  const auto again = model->forward(ids);
  CHECK(cache->stats().hits == 4);
  CHECK(again.equal(cached));
  again.sum().backward();
  CHECK(model->trf_blocks[2]->parameters()[0].grad().defined());
  CHECK_FALSE(model->trf_blocks[1]->parameters()[0].grad().defined());
}

// Fine-tuning a model (run/finetune.hpp): the LoRA adapter (nn/lora.hpp)
// beside Linear layers (nn/adapter.hpp), the classifier head, which
// parameters train, and the merged and adapter-only weights.
#include <set>
#include <string>
#include <vector>

#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <catch2/catch.hpp>
#include <torch/utils.h>

#include <ember/config/config.hpp>
#include <ember/nn/adapter.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/nn/lora.hpp>
#include <ember/run/finetune.hpp>
#include <ember/util/error.hpp>

using ember::GPTModel;
using ember::GPTModelOptions;

namespace {

GPTModel tiny(int64_t num_classes = 0) {
  torch::manual_seed(5);
  return GPTModel(GPTModelOptions(60, 8, 8)
                      .n_layers(2)
                      .n_heads(2)
                      .drop_rate(0.0)
                      .qkv_bias(true)
                      .num_classes(num_classes));
}

ember::FinetuneConfig lora(
    int64_t rank, std::vector<std::string> targets = {}) {
  ember::FinetuneConfig f;
  f.lora_rank = rank;
  f.lora_alpha = 2.0;
  f.lora_targets = std::move(targets);
  return f;
}

std::set<std::string> trainable_names(GPTModel& m) {
  std::set<std::string> out;
  for (const auto& p : m->named_parameters())
    if (p.value().requires_grad()) out.insert(p.key());
  return out;
}

}  // namespace

TEST_CASE(
    "LoRA: A drawn, B zero; output = base + (alpha/rank) x A B", "[lora]") {
  torch::manual_seed(1);
  ember::LoRAImpl lora({6, 4, 2, 3.0});
  CHECK(lora.A.sizes() == at::IntArrayRef({6, 2}));
  CHECK(lora.B.sizes() == at::IntArrayRef({2, 4}));
  CHECK(lora.B.abs().sum().item<double>() == 0.0);
  CHECK(lora.A.abs().sum().item<double>() > 0.0);
  const auto x = torch::randn({3, 6});
  const auto base = torch::randn({3, 4});
  CHECK(at::equal(lora.forward(x, base), base));  // B = 0: the base, exactly
  torch::NoGradGuard no_grad;
  lora.B.normal_();
  const auto want = base + 1.5 * x.matmul(lora.A).matmul(lora.B);
  CHECK(at::allclose(lora.forward(x, base), want));
  // The merged weight gives the same change: x W'^T = x W^T + x delta^T.
  CHECK(
      at::allclose(x.matmul(lora.delta_weight().t()), want - base, 1e-5, 1e-6));
}

TEST_CASE(
    "adapters: with B = 0 the logits are the base model's, bit for bit",
    "[lora]") {
  auto m = tiny();
  const auto ids = torch::randint(0, 60, {2, 8}, torch::kLong);
  torch::NoGradGuard no_grad;
  const auto before = m(ids);
  ember::attach_adapters(*m, lora(2));
  CHECK(ember::has_adapters(*m));
  CHECK(at::equal(m(ids), before));
  // Every Linear of the book's model has one: 4 attention + 2 feed-forward
  // per block, and the head.
  int n = 0;
  for (const auto& p : m->named_parameters()) {
    if (p.key().size() > 7 && p.key().substr(p.key().size() - 7) == ".lora.A")
      ++n;
  }
  CHECK(n == 2 * 6 + 1);
  // Training B changes the outputs (the adapter is on the forward path).
  for (auto& p : m->named_parameters()) {
    if (p.key().find(".lora.B") != std::string::npos) p.value().fill_(0.01);
  }
  CHECK(!at::equal(m(ids), before));
}

TEST_CASE("adapters: lora_targets choose the layers", "[lora]") {
  auto m = tiny();
  ember::attach_adapters(*m, lora(2, {"attention"}));
  std::set<std::string> linears;
  for (const auto& p : ember::adapter_state(*m)) {
    linears.insert(p.first.substr(0, p.first.find(".lora.")));
  }
  CHECK(linears.size() == 8);  // W_query, W_key, W_value, out_proj x 2 blocks
  CHECK(linears.count("trf_blocks.1.att.out_proj") == 1);
  auto ff = tiny();
  ember::attach_adapters(*ff, lora(2, {"W_value", "out_head"}));
  CHECK(ember::adapter_state(*ff).size() == 2 * 3);
}

TEST_CASE(
    "adapters: a rank above a layer's input features is an error", "[lora]") {
  auto m = tiny();
  CHECK_THROWS_AS(ember::attach_adapters(*m, lora(9)), ember::ConfigError);
  try {
    ember::attach_adapters(*tiny(), lora(9));
  } catch (const ember::ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Contains("larger than the 8 input features"));
  }
}

TEST_CASE("finetune: trainable parts and parameter counts", "[lora]") {
  auto m = tiny(3);
  CHECK(m->out_head->weight.sizes() == at::IntArrayRef({3, 8}));
  CHECK(m->out_head->bias.defined());
  ember::set_trainable(*m, "head");
  CHECK(
      trainable_names(m) ==
      std::set<std::string>{"out_head.weight", "out_head.bias"});
  ember::set_trainable(*m, "last_block");
  const auto last = trainable_names(m);
  CHECK(last.count("trf_blocks.1.att.W_query.weight") == 1);
  CHECK(last.count("trf_blocks.0.att.W_query.weight") == 0);
  CHECK(last.count("final_norm.scale") == 1);
  CHECK(last.count("tok_emb.weight") == 0);
  ember::attach_adapters(*m, lora(2));
  ember::set_trainable(*m, "adapter");
  for (const auto& name : trainable_names(m))
    CHECK(name.find(".lora.") != std::string::npos);
  const auto count = ember::count_parameters(*m);
  int64_t adapter = 0;
  for (const auto& p : ember::adapter_state(*m)) adapter += p.second.numel();
  CHECK(count.trainable == adapter);
  ember::set_trainable(*m, "all");
  CHECK(ember::count_parameters(*m).trainable == count.total);
}

TEST_CASE(
    "finetune: the merged state is the adapted model's weights", "[lora]") {
  auto m = tiny();
  ember::attach_adapters(*m, lora(2));
  torch::NoGradGuard no_grad;
  for (auto& p : m->named_parameters())
    if (p.key().find(".lora.B") != std::string::npos) p.value().normal_(0, 0.1);
  const auto ids = torch::randint(0, 60, {1, 8}, torch::kLong);
  const auto adapted = m(ids);
  auto plain = tiny();
  std::map<std::string, at::Tensor> merged;
  for (const auto& kv : ember::merged_state(*m))
    merged.emplace(kv.first, kv.second);
  for (auto& p : plain->named_parameters()) {
    REQUIRE(merged.count(p.key()) == 1);
    p.value().copy_(merged.at(p.key()));
  }
  CHECK(
      merged.size() ==
      plain->named_parameters().size() + plain->named_buffers().size());
  CHECK(at::allclose(plain(ids), adapted, 1e-5, 1e-5));
  CHECK(!at::allclose(tiny()(ids), adapted, 1e-5, 1e-5));
}

TEST_CASE(
    "classifier head: reset_head draws a new Linear after a seed", "[lora]") {
  auto a = tiny(2);
  auto b = tiny(2);
  torch::manual_seed(9);
  a->reset_head();
  torch::manual_seed(9);
  torch::nn::Linear fresh(torch::nn::LinearOptions(8, 2));
  CHECK(at::equal(a->out_head->weight, fresh->weight));
  CHECK(at::equal(a->out_head->bias, fresh->bias));
  CHECK(!at::equal(a->out_head->weight, b->out_head->weight));
  const auto logits = a(torch::randint(0, 60, {4, 8}, torch::kLong));
  const auto loss = ember::last_token_loss(logits, torch::tensor({0, 1, 1, 0}));
  CHECK(loss.dim() == 0);
}

// GPTModel, the module registries, SinusoidalEncoding and RMSNorm.
#include <algorithm>
#include <cmath>

#include <catch2/catch.hpp>
#include <torch/utils.h>

#include <ember/nn/gpt_model.hpp>
#include <ember/nn/registry.hpp>
#include <ember/nn/rms_norm.hpp>
#include <ember/nn/sinusoidal_encoding.hpp>
#include <ember/util/error.hpp>

using ember::GPTModel;
using ember::GPTModelOptions;

namespace {
std::vector<std::string> names(torch::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& p : m.named_parameters()) out.push_back(p.key());
  return out;
}
}  // namespace

TEST_CASE(
    "GPTModel: parameters in GPTModel's order, logits (B, T, V)", "[module]") {
  torch::manual_seed(123);
  GPTModel lm(GPTModelOptions(50, 8, 4));
  CHECK(
      names(*lm) == std::vector<std::string>{
                        "tok_emb.weight",
                        "pos_emb.weight",
                        "final_norm.scale",
                        "final_norm.shift",
                        "out_head.weight"});
  auto ids = torch::randint(0, 50, {2, 8}, torch::kLong);
  auto logits = lm(ids);
  CHECK(logits.sizes() == torch::IntArrayRef({2, 8, 50}));
  auto loss = ember::lm_loss(logits, ids);
  CHECK(loss.dim() == 0);
  // Untrained: near ln(V) (LayerNorm output against small uniform weights).
  CHECK(std::abs(loss.item<double>() - std::log(50.0)) < 0.5);
  // The same seed gives the same weights; order matters (draws).
  torch::manual_seed(123);
  GPTModel again(GPTModelOptions(50, 8, 4));
  CHECK(torch::equal(lm->out_head->weight, again->out_head->weight));
}

TEST_CASE("GPTModel: tie_weights shares tok_emb, draws unchanged", "[module]") {
  torch::manual_seed(1);
  GPTModel tied(GPTModelOptions(50, 8, 4).tie_weights(true).drop_rate(0));
  CHECK(
      names(*tied) == std::vector<std::string>{
                          "tok_emb.weight",
                          "pos_emb.weight",
                          "final_norm.scale",
                          "final_norm.shift"});
  auto ids = torch::randint(0, 50, {1, 8}, torch::kLong);
  auto x = tied->final_norm.forward(tied->embedding.forward(ids));
  auto tok = tied->named_parameters()["tok_emb.weight"];
  CHECK(torch::allclose(tied(ids), torch::matmul(x, tok.t())));
  // Built after the untied out_head's draws: the next draw is the same.
  torch::manual_seed(1);
  GPTModel untied(GPTModelOptions(50, 8, 4));
  const auto a = torch::rand({1});
  torch::manual_seed(1);
  GPTModel tied2(GPTModelOptions(50, 8, 4).tie_weights(true));
  CHECK(torch::equal(a, torch::rand({1})));
}

TEST_CASE(
    "GPTModel: bad shapes and unknown module names are refused", "[module]") {
  CHECK_THROWS_WITH(
      GPTModel(GPTModelOptions(50, 8, 6).n_layers(1).n_heads(4)),
      "TransformerBlock: emb_dim must be divisible by n_heads (got emb_dim 6, "
      "n_heads 4)");
  CHECK_THROWS_WITH(
      GPTModel(GPTModelOptions(50, 8, 4).n_layers(-1)),
      "GPTModel: n_layers must be >= 0 (got -1)");
  CHECK_THROWS_MATCHES(
      GPTModel(GPTModelOptions(50, 8, 4).norm("batchnorm")),
      ember::ConfigError,
      Catch::Matchers::Message(
          "model.norm: unknown norm 'batchnorm' (expected one of: layernorm, "
          "rmsnorm)"));
  CHECK_THROWS_MATCHES(
      GPTModel(GPTModelOptions(50, 8, 4).n_layers(1).attention("flash")),
      ember::ConfigError,
      Catch::Matchers::Message(
          "model.attention: unknown attention 'flash' (expected one of: "
          "fused, multihead)"));
  GPTModel gpt(GPTModelOptions(50, 8, 4).n_layers(1).n_heads(2));
  CHECK_THROWS_WITH(
      gpt(torch::zeros({1, 9}, torch::kLong)),
      Catch::Contains("sequence length exceeds context_length (got T = 9"));
  CHECK_THROWS_WITH(
      gpt(torch::full({1, 2}, 50, torch::kLong)),
      Catch::Contains("token id out of range (got 50"));
  CHECK_THROWS_MATCHES(
      GPTModel(GPTModelOptions(50, 8, 4).pos_encoding("rope")),
      ember::ConfigError,
      Catch::Matchers::Message(
          "model.pos_encoding: unknown encoding 'rope' (expected one of: "
          "learned, sinusoidal)"));
}

TEST_CASE("GPTModel: the book's state-dict keys, in its order", "[module]") {
  GPTModel gpt(GPTModelOptions(50, 8, 4).n_layers(2).n_heads(2).qkv_bias(true));
  const auto all = names(*gpt);
  const std::vector<std::string> first_block = {
      "trf_blocks.0.att.W_query.weight",
      "trf_blocks.0.att.W_query.bias",
      "trf_blocks.0.att.W_key.weight",
      "trf_blocks.0.att.W_key.bias",
      "trf_blocks.0.att.W_value.weight",
      "trf_blocks.0.att.W_value.bias",
      "trf_blocks.0.att.out_proj.weight",
      "trf_blocks.0.att.out_proj.bias",
      "trf_blocks.0.ff.layers.0.weight",
      "trf_blocks.0.ff.layers.0.bias",
      "trf_blocks.0.ff.layers.2.weight",
      "trf_blocks.0.ff.layers.2.bias",
      "trf_blocks.0.norm1.scale",
      "trf_blocks.0.norm1.shift",
      "trf_blocks.0.norm2.scale",
      "trf_blocks.0.norm2.shift"};
  REQUIRE(all.size() == 2 + 2 * first_block.size() + 3);
  CHECK(all[0] == "tok_emb.weight");
  CHECK(all[1] == "pos_emb.weight");
  CHECK(std::equal(first_block.begin(), first_block.end(), all.begin() + 2));
  CHECK(all[18] == "trf_blocks.1.att.W_query.weight");
  CHECK(
      std::vector<std::string>(all.end() - 3, all.end()) ==
      std::vector<std::string>{
          "final_norm.scale", "final_norm.shift", "out_head.weight"});
  std::vector<std::string> buffers;
  for (const auto& b : gpt->named_buffers()) buffers.push_back(b.key());
  CHECK(
      buffers == std::vector<std::string>{
                     "trf_blocks.0.att.mask", "trf_blocks.1.att.mask"});
  // dump points are offered in order and match the plain forward.
  gpt->eval();
  ember::Activations acts;
  for (const auto& name : gpt->dump_points()) acts.wanted.insert(name);
  const auto ids = torch::tensor({{1, 2, 3}}, torch::kLong);
  const auto logits = gpt->forward_with(ids, acts);
  CHECK(torch::equal(logits, gpt(ids)));
  CHECK(acts.got.size() == gpt->dump_points().size());
  CHECK(torch::equal(acts.got.at("out_head"), logits));
  CHECK(
      acts.got.at("trf_blocks.1.att").sizes() == torch::IntArrayRef({1, 3, 4}));
}

TEST_CASE(
    "RMSNorm: weight * x / rms(x), selectable as model.norm", "[module]") {
  ember::RMSNorm norm(ember::RMSNormOptions(4));
  const auto x = torch::tensor({{1.0f, -2.0f, 3.0f, -4.0f}});
  const double rms = std::sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
  CHECK(torch::allclose(norm(x), x / rms, 0, 1e-6));
  // Small inputs make eps count: mean square 7.5e-6 against eps 1e-5.
  const auto small = x * 1e-3;
  const double small_rms = std::sqrt(7.5e-6 + 1e-5);
  CHECK(torch::allclose(norm(small), small / small_rms, 1e-5, 0));
  GPTModel gpt(
      GPTModelOptions(50, 8, 4).n_layers(1).n_heads(2).norm("rmsnorm"));
  const auto p = gpt->named_parameters();
  CHECK(p.contains("trf_blocks.0.norm1.weight"));
  CHECK(p.contains("final_norm.weight"));
  CHECK_FALSE(p.contains("final_norm.scale"));
  CHECK_THROWS_WITH(
      norm(torch::zeros({2, 3})),
      Catch::Contains("RMSNorm: the last dimension must be emb_dim"));
}

TEST_CASE(
    "SinusoidalEncoding: the paper's table, a buffer, selectable by name",
    "[module]") {
  const auto pe = ember::SinusoidalEncodingImpl::table(50, 6);
  CHECK(pe.sizes() == torch::IntArrayRef({50, 6}));
  // pos 0: sin 0 = 0, cos 0 = 1
  CHECK(pe[0][0].item<float>() == 0.0f);
  CHECK(pe[0][1].item<float>() == 1.0f);
  // PE[pos, 2i] = sin(pos / 10000^(2i/D)); float32 rounding only (1e-6).
  CHECK(
      std::abs(
          pe[7][2].item<double>() - std::sin(7 / std::pow(10000.0, 2.0 / 6))) <
      1e-6);
  CHECK(
      std::abs(
          pe[7][3].item<double>() - std::cos(7 / std::pow(10000.0, 2.0 / 6))) <
      1e-6);
  CHECK(
      std::abs(
          pe[49][4].item<double>() -
          std::sin(49 / std::pow(10000.0, 4.0 / 6))) < 1e-6);
  // Odd D: the last column is a sine.
  CHECK(
      ember::SinusoidalEncodingImpl::table(3, 5).sizes() ==
      torch::IntArrayRef({3, 5}));

  torch::manual_seed(5);
  GPTModel lm(
      GPTModelOptions(40, 8, 6).pos_encoding("sinusoidal").drop_rate(0));
  CHECK(
      names(*lm) == std::vector<std::string>{
                        "tok_emb.weight",
                        "final_norm.scale",
                        "final_norm.shift",
                        "out_head.weight"});
  auto ids = torch::tensor({{3, 3, 3}}, torch::kLong);
  auto emb = lm->embedding.forward(ids);
  auto tok = lm->named_parameters()["tok_emb.weight"][3];
  for (int64_t t = 0; t < 3; ++t) {
    CHECK(torch::allclose(
        emb[0][t], tok + ember::SinusoidalEncodingImpl::table(8, 6)[t]));
  }
  CHECK_THROWS_WITH(
      lm->embedding.forward(torch::zeros({1, 9}, torch::kLong)),
      "SinusoidalEncoding: sequence length exceeds context_length (got T = 9, "
      "expected <= 8)");
  const auto all = ember::input_embeddings().names();
  CHECK(all == std::vector<std::string>{"learned", "sinusoidal"});
}

TEST_CASE("GPTModel: forward_last is forward's last position", "[module]") {
  torch::manual_seed(123);
  GPTModel model(
      GPTModelOptions(50, 8, 16).n_layers(2).n_heads(2).drop_rate(0.0));
  const auto ids = torch::randint(0, 50, {3, 8}, torch::kLong);
  const auto whole = model(ids);
  const auto last = model->forward_last(ids);
  CHECK(last.sizes() == torch::IntArrayRef({3, 1, 50}));
  CHECK(last.allclose(whole.narrow(1, 7, 1), 1e-5, 1e-6));
  // Gradients reach the last block's query, as the whole pass's do.
  last.sum().backward();
  auto grads = model->named_parameters();
  CHECK(
      grads["trf_blocks.1.att.W_query.weight"]
          .grad()
          .abs()
          .sum()
          .item<double>() > 0);

  // With dropout in training: the whole pass, the same draws.
  torch::manual_seed(7);
  GPTModel dropping(
      GPTModelOptions(50, 8, 16).n_layers(2).n_heads(2).drop_rate(0.5));
  torch::manual_seed(1);
  const auto a = dropping(ids).narrow(1, 7, 1);
  torch::manual_seed(1);
  CHECK(dropping->forward_last(ids).equal(a));
  dropping->eval();  // no draws: the last position alone
  CHECK(dropping->forward_last(ids).allclose(
      dropping(ids).narrow(1, 7, 1), 1e-5, 1e-6));
}

// The book's chapter 3-4 modules (LayerNorm, GELU, FeedForward,
// MultiHeadAttention, TransformerBlock) and whole GPTModels (also with
// RMSNorm, and sinusoidal with tied weights) against tests/golden/
// transformer_blocks.txt, written by tests/reference/gen_blocks.py from the
// book's classes in PyTorch: weights bit-identical under the same seed,
// outputs, losses and gradients within 1e-5 (float32 sums over at most 64
// terms, in another order than PyTorch's kernels may take).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "golden_util.hpp"
#include <ATen/ops/rand.h>
#include <catch2/catch.hpp>
#include <torch/utils.h>

#include <ember/nn/feed_forward.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/nn/layer_norm.hpp>
#include <ember/nn/multi_head_attention.hpp>
#include <ember/nn/transformer_block.hpp>

namespace {

using Fields = std::vector<std::string>;

struct GoldenCase {
  std::string name;
  std::string kind;
  std::map<std::string, int64_t> args;  // seed, sizes, flags
  std::vector<int64_t> input_shape;
  std::vector<Fields> tensors;           // tensor NAME SHAPE SHA
  std::map<std::string, Fields> values;  // output, grad_input, grad NAME
};

std::vector<int64_t> parse_shape(const std::string& s) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t x = s.find('x', start);
    out.push_back(std::stoll(s.substr(start, x - start)));
    if (x == std::string::npos) break;
    start = x + 1;
  }
  return out;
}

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> cases;
  for (const auto& f : ember::test::golden_lines("transformer_blocks.txt")) {
    if (f[0] == "case") {
      GoldenCase c;
      c.name = f[1];
      c.kind = f[2];
      for (size_t i = 3; i < f.size(); ++i) {
        const auto eq = f[i].find('=');
        const auto key = f[i].substr(0, eq);
        const auto value = f[i].substr(eq + 1);
        if (key == "input") {
          c.input_shape = parse_shape(value);
        } else {
          c.args[key] = std::stoll(value);
        }
      }
      cases.push_back(c);
    } else if (f[0] == "tensor") {
      cases.back().tensors.push_back(f);
    } else if (f[0] == "grad") {
      cases.back().values["grad " + f[1]] = Fields(f.begin() + 2, f.end());
    } else {
      cases.back().values[f[0]] = Fields(f.begin() + 1, f.end());
    }
  }
  return cases;
}

// A golden "SHAPE v v v ..." record as a tensor.
torch::Tensor golden_tensor(const Fields& f) {
  std::vector<float> v;
  for (size_t i = 1; i < f.size(); ++i)
    v.push_back(ember::test::parse_f32(f[i]));
  return torch::tensor(v).view(parse_shape(f[0]));
}

torch::nn::AnyModule build(const GoldenCase& c) {
  const auto& a = c.args;
  if (c.kind == "layer_norm") {
    return torch::nn::AnyModule(
        ember::LayerNorm(ember::LayerNormOptions(a.at("emb_dim"))));
  }
  if (c.kind == "gelu") return torch::nn::AnyModule(ember::GELU());
  if (c.kind == "feed_forward") {
    return torch::nn::AnyModule(
        ember::FeedForward(ember::FeedForwardOptions(a.at("emb_dim"))));
  }
  if (c.kind == "mha") {
    return torch::nn::AnyModule(
        ember::MultiHeadAttention(ember::MultiHeadAttentionOptions(
                                      a.at("d_in"),
                                      a.at("d_out"),
                                      a.at("context_length"),
                                      a.at("num_heads"))
                                      .dropout(0.0)
                                      .qkv_bias(a.at("qkv_bias") != 0)));
  }
  return torch::nn::AnyModule(ember::TransformerBlock(
      ember::TransformerBlockOptions(
          a.at("emb_dim"), a.at("context_length"), a.at("n_heads"))
          .drop_rate(0.0)
          .qkv_bias(a.at("qkv_bias") != 0)));
}

void check_close(
    const torch::Tensor& got, const Fields& want, const std::string& what) {
  INFO(what);
  const auto expected = golden_tensor(want);
  REQUIRE(got.sizes() == expected.sizes());
  const double worst = (got.detach() - expected).abs().max().item<double>();
  INFO("largest difference " << worst);
  CHECK(std::isfinite(worst));
  CHECK(worst <= 1e-5);
}

}  // namespace

TEST_CASE(
    "TransformerBlock and its parts: the book's weights, outputs and "
    "gradients",
    "[module]") {
  auto cases = golden_cases();
  cases.erase(
      std::remove_if(
          cases.begin(),
          cases.end(),
          [](const GoldenCase& c) { return c.kind == "gpt"; }),
      cases.end());
  REQUIRE(cases.size() == 7);  // the golden file was read, every case
  for (const auto& c : cases) {
    SECTION(c.name) {
      torch::manual_seed(static_cast<uint64_t>(c.args.at("seed")));
      auto module = build(c);
      auto x = (at::rand(c.input_shape) * 4 - 2).requires_grad_(true);
      auto out_shape = c.input_shape;
      if (c.kind == "mha") out_shape.back() = c.args.at("d_out");
      const auto w = at::rand(out_shape);
      // Parameters then buffers, each bit-identical to PyTorch's.
      std::vector<std::pair<std::string, torch::Tensor>> state;
      for (const auto& p : module.ptr()->named_parameters())
        state.emplace_back(p.key(), p.value());
      for (const auto& b : module.ptr()->named_buffers())
        state.emplace_back(b.key(), b.value());
      REQUIRE(state.size() == c.tensors.size());
      for (size_t i = 0; i < state.size(); ++i) {
        INFO(c.name << ": " << c.tensors[i][1]);
        CHECK(state[i].first == c.tensors[i][1]);
        CHECK(ember::test::tensor_sha256(state[i].second) == c.tensors[i][3]);
      }
      const auto y = module.forward(x);
      check_close(y, c.values.at("output"), c.name + " output");
      (y * w).sum().backward();
      check_close(x.grad(), c.values.at("grad_input"), c.name + " grad_input");
      const auto params = module.ptr()->named_parameters();
      if (params.is_empty()) continue;  // GELU: no parameters
      for (const auto* p : {&params[0], &params[params.size() - 1]}) {
        const auto key = "grad " + p->key();
        REQUIRE(c.values.count(key) == 1);
        check_close(p->value().grad(), c.values.at(key), c.name + " " + key);
      }
    }
  }
}

TEST_CASE(
    "GPTModel: the book's weights, logits, loss and every gradient",
    "[module]") {
  size_t seen = 0;
  for (const auto& c : golden_cases()) {
    if (c.kind != "gpt") continue;
    ++seen;
    SECTION(c.name) {
      const auto& a = c.args;
      torch::manual_seed(static_cast<uint64_t>(a.at("seed")));
      ember::GPTModel model(
          ember::GPTModelOptions(
              a.at("vocab_size"), a.at("context_length"), a.at("emb_dim"))
              .n_layers(a.at("n_layers"))
              .n_heads(a.at("n_heads"))
              .drop_rate(0.0)
              .qkv_bias(a.at("qkv_bias") != 0)
              .tie_weights(a.at("tie_weights") != 0)
              .norm(a.at("rmsnorm") != 0 ? "rmsnorm" : "layernorm")
              .pos_encoding(
                  a.at("sinusoidal") != 0 ? "sinusoidal" : "learned"));
      // Parameters then buffers, each bit-identical to PyTorch's.
      std::vector<std::pair<std::string, torch::Tensor>> state;
      for (const auto& p : model->named_parameters())
        state.emplace_back(p.key(), p.value());
      for (const auto& b : model->named_buffers())
        state.emplace_back(b.key(), b.value());
      REQUIRE(state.size() == c.tensors.size());
      for (size_t i = 0; i < state.size(); ++i) {
        INFO(c.name << ": " << c.tensors[i][1]);
        CHECK(state[i].first == c.tensors[i][1]);
        CHECK(ember::test::tensor_sha256(state[i].second) == c.tensors[i][3]);
      }
      // Integer ids, exact in float32.
      const auto ids = golden_tensor(c.values.at("ids")).to(at::kLong);
      const auto targets = golden_tensor(c.values.at("targets")).to(at::kLong);
      const auto logits = model(ids);
      check_close(logits, c.values.at("output"), c.name + " logits");
      const auto loss = ember::lm_loss(logits, targets);
      check_close(loss.reshape({1}), c.values.at("loss"), c.name + " loss");
      loss.backward();
      size_t grads = 0;
      for (const auto& p : model->named_parameters()) {
        const auto key = "grad " + p.key();
        REQUIRE(c.values.count(key) == 1);
        check_close(p.value().grad(), c.values.at(key), c.name + " " + key);
        ++grads;
      }
      // Every parameter's gradient is in the golden file, none left over.
      size_t golden_grads = 0;
      for (const auto& v : c.values)
        golden_grads += v.first.rfind("grad ", 0) == 0 ? 1 : 0;
      CHECK(grads == golden_grads);
    }
  }
  CHECK(seen == 3);  // gpt, gpt_rmsnorm, gpt_sinusoidal_tied
}

TEST_CASE(
    "MultiHeadAttention: shapes are checked with clear errors", "[module]") {
  CHECK_THROWS_WITH(
      ember::MultiHeadAttention(ember::MultiHeadAttentionOptions(8, 8, 4, 3)),
      "MultiHeadAttention: d_out must be divisible by num_heads (got d_out 8, "
      "num_heads 3)");
  ember::MultiHeadAttention att(ember::MultiHeadAttentionOptions(8, 8, 4, 2));
  CHECK_THROWS_WITH(
      att(at::rand({1, 5, 8})),
      "MultiHeadAttention: sequence longer than context_length (got T = 5, "
      "expected <= 4)");
  CHECK_THROWS_WITH(
      att(at::rand({1, 3, 7})),
      "MultiHeadAttention: input must be (B, T, d_in) with d_in 8 (got shape "
      "[1, 3, 7])");
  ember::LayerNorm norm(ember::LayerNormOptions(8));
  CHECK_THROWS_WITH(
      norm(at::rand({2, 7})),
      "LayerNorm: the last dimension must be emb_dim (got shape [2, 7], "
      "expected (..., 8))");
}

TEST_CASE("MultiHeadAttention: token t sees only tokens up to t", "[module]") {
  torch::manual_seed(5);
  ember::MultiHeadAttention att(ember::MultiHeadAttentionOptions(8, 8, 6, 2));
  const auto x = at::rand({1, 6, 8});
  auto changed = x.clone();
  changed.select(1, 4).add_(1.0);  // change token 4 only
  const auto a = att(x);
  const auto b = att(changed);
  // Tokens 0..3 are blind to token 4; tokens 4 and 5 see it.
  CHECK(torch::equal(a.slice(1, 0, 4), b.slice(1, 0, 4)));
  CHECK_FALSE(torch::allclose(a.slice(1, 4, 6), b.slice(1, 4, 6)));
}

// GPTEmbedding and torch::nn::Embedding init: the book's printed weights,
// PyTorch's weights bit for bit (tests/golden/embedding_weights.txt and
// first_batch_embeddings.txt from tests/reference/gen_reference.py), shapes,
// and clear errors for bad ids. Dimensions: B batch, T sequence, D emb_dim.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "golden_util.hpp"
#include "skip.hpp"
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/tensor.h>
#include <catch2/catch.hpp>
#include <torch/cuda.h>
#include <torch/nn/modules/embedding.h>
#include <torch/utils.h>

#include <ember/data/gpt_dataset.hpp>
#include <ember/data/loader.hpp>
#include <ember/nn/gpt_embedding.hpp>

using ember::GPTEmbedding;
using ember::GPTEmbeddingOptions;

namespace {

torch::Tensor long_tensor(std::vector<int64_t> v, std::vector<int64_t> shape) {
  return at::tensor(v, at::TensorOptions().dtype(at::kLong)).reshape(shape);
}

// Compares a golden "row <i> v..." line (all D values, or the first 8 and
// the last 8 when D > 16 and the line is short) with row i of w, bit for bit.
void require_row(
    const torch::Tensor& w,
    const std::vector<std::string>& line,
    size_t first) {
  const int64_t r = std::stoll(line[first]);
  const int64_t d = w.size(1);
  std::vector<int64_t> cols;
  for (int64_t j = 0; j < d; ++j) {
    const bool full = line.size() == first + 1 + static_cast<size_t>(d);
    if (full || d <= 16 || j < 8 || j >= d - 8) {
      cols.push_back(j);
    }
  }
  REQUIRE(line.size() == first + 1 + cols.size());
  for (size_t k = 0; k < cols.size(); ++k) {
    INFO("row " << r << " col " << cols[k]);
    REQUIRE(
        w[r][cols[k]].item<float>() ==
        ember::test::parse_f32(line[first + 1 + k]));
  }
}

}  // namespace

TEST_CASE(
    "GPTEmbedding: seed 123 gives the book's Embedding(6, 3)", "[module]") {
  torch::manual_seed(123);
  torch::nn::Embedding emb(6, 3);
  // The book prints 4 decimals, so compare within half a unit of the 4th.
  const std::vector<std::vector<double>> book = {
      {0.3374, -0.1778, -0.1690},
      {0.9178, 1.5810, 1.3010},
      {1.2753, -0.2010, -0.1606},
      {-0.4015, 0.9666, -1.1481},
      {-1.1589, 0.3255, -0.6315},
      {-2.8400, -0.7849, -1.4096}};
  for (int64_t i = 0; i < 6; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      const double w = emb->weight[i][j].item<double>();
      REQUIRE(
          std::abs(w - book[static_cast<size_t>(i)][static_cast<size_t>(j)]) <=
          0.00005);
    }
  }
  // embedding_layer(torch.tensor([3])) and of [2, 3, 5, 1]: rows, exactly.
  torch::NoGradGuard no_grad;
  const auto one = emb(long_tensor({3}, {1}));
  REQUIRE(one.sizes() == at::IntArrayRef{1, 3});
  REQUIRE(at::equal(one[0], emb->weight[3]));
  const auto four = emb(long_tensor({2, 3, 5, 1}, {4}));
  REQUIRE(four.sizes() == at::IntArrayRef{4, 3});
  const int64_t order[] = {2, 3, 5, 1};
  for (int64_t k = 0; k < 4; ++k) {
    REQUIRE(at::equal(four[k], emb->weight[order[k]]));
  }
  REQUIRE(std::abs(four[0][0].item<double>() - 1.2753) <= 0.00005);
}

TEST_CASE(
    "GPTEmbedding: Embedding weights match PyTorch bit for bit", "[module]") {
  const auto lines = ember::test::golden_lines("embedding_weights.txt");
  torch::Tensor w;
  int cases = 0;
  int modules = 0;
  int rows = 0;
  for (const auto& line : lines) {
    INFO("embedding_weights.txt line: " << line[0] << " " << line.size());
    if (line[0] == "embedding") {
      const auto seed = std::stoull(line[1]);
      const int64_t v = std::stoll(line[2]);
      const int64_t d = std::stoll(line[3]);
      INFO("seed " << seed << " Embedding(" << v << ", " << d << ")");
      torch::manual_seed(seed);
      torch::nn::Embedding emb(v, d);
      w = emb->weight.detach();
      REQUIRE(ember::test::tensor_sha256(w) == line[4]);
      ++cases;
    } else if (line[0] == "row") {
      REQUIRE(w.defined());
      require_row(w, line, 1);
      ++rows;
    } else if (line[0] == "gpt_embedding") {
      const auto seed = std::stoull(line[1]);
      INFO(
          "seed " << seed << " GPTEmbedding(" << line[2] << ", " << line[3]
                  << ", " << line[4] << ")");
      torch::manual_seed(seed);
      GPTEmbedding emb(GPTEmbeddingOptions(
          std::stoll(line[2]), std::stoll(line[3]), std::stoll(line[4])));
      REQUIRE(ember::test::tensor_sha256(emb->tok_emb->weight) == line[5]);
      REQUIRE(ember::test::tensor_sha256(emb->pos_emb->weight) == line[6]);
      ++cases;
      ++modules;
    } else {
      FAIL("embedding_weights.txt: unknown line '" << line[0] << "'");
    }
  }
  // The golden was read, all of it (gen_reference.py writes 8 embeddings,
  // 4 GPTEmbeddings and 32 rows): a truncated or empty file fails here.
  REQUIRE(cases >= 12);
  REQUIRE(modules >= 4);
  REQUIRE(rows >= 30);
}

TEST_CASE("GPTEmbedding: parameters are tok_emb then pos_emb", "[module]") {
  GPTEmbedding emb(GPTEmbeddingOptions(10, 4, 3));
  const auto params = emb->named_parameters();
  REQUIRE(params.size() == 2);
  REQUIRE(
      params.keys() ==
      std::vector<std::string>{"tok_emb.weight", "pos_emb.weight"});
  REQUIRE(emb->tok_emb->weight.sizes() == at::IntArrayRef{10, 3});
  REQUIRE(emb->pos_emb->weight.sizes() == at::IntArrayRef{4, 3});
  REQUIRE(emb->tok_emb->weight.requires_grad());
}

TEST_CASE(
    "GPTEmbedding: the book's first batch, summed, is PyTorch's", "[module]") {
  // Section 2.8: batch 8, max_length 4, stride 4; vocab 50257, dim 256.
  ember::Loader loader(
      ember::GptDataset(ember::test::verdict_ids(), 4, 4), {8, false, true, 0});
  const auto batch = loader.begin_pass().next();
  REQUIRE(batch.has_value());
  torch::manual_seed(123);
  GPTEmbedding emb(GPTEmbeddingOptions(50257, 4, 256));
  torch::NoGradGuard no_grad;
  const auto tok = emb->tok_emb(batch->inputs);
  REQUIRE(tok.sizes() == at::IntArrayRef{8, 4, 256});
  const auto pos = emb->pos_emb(at::arange(4));
  REQUIRE(pos.sizes() == at::IntArrayRef{4, 256});
  const auto sum = emb(batch->inputs);
  REQUIRE(sum.sizes() == at::IntArrayRef{8, 4, 256});
  REQUIRE(sum.scalar_type() == at::kFloat);
  REQUIRE(at::equal(sum, tok + pos));

  const auto lines = ember::test::golden_lines("first_batch_embeddings.txt");
  // How many of each line were checked: the golden must have been read.
  std::map<std::string, int> seen;
  for (const auto& line : lines) {
    ++seen[line[0]];
    if (line[0] == "inputs") {
      std::vector<int64_t> ids;
      for (size_t i = 1; i < line.size(); ++i) {
        ids.push_back(std::stoll(line[i]));
      }
      REQUIRE(at::equal(batch->inputs, long_tensor(ids, {8, 4})));
    } else if (line[0] == "shape") {
      REQUIRE(
          sum.sizes() ==
          at::IntArrayRef{
              std::stoll(line[1]), std::stoll(line[2]), std::stoll(line[3])});
    } else if (line[0] == "sha256") {
      REQUIRE(ember::test::tensor_sha256(sum) == line[1]);
    } else if (line[0] == "row") {
      require_row(sum[std::stoll(line[1])], line, 2);
    } else {
      FAIL("first_batch_embeddings.txt: unknown line '" << line[0] << "'");
    }
  }
  REQUIRE(seen["inputs"] == 1);
  REQUIRE(seen["shape"] == 1);
  REQUIRE(seen["sha256"] == 1);
  REQUIRE(seen["row"] >= 2);
}

TEST_CASE(
    "GPTEmbedding: embed(x) - tok_emb(x) is the same for every row",
    "[module]") {
  const int64_t b = GENERATE(take(5, random(1, 16)));
  const int64_t t = GENERATE(take(3, random(1, 32)));
  torch::manual_seed(static_cast<uint64_t>(b * 100 + t));
  GPTEmbedding emb(GPTEmbeddingOptions(500, 32, 24));
  const auto ids =
      at::randint(500, {b, t}, at::TensorOptions().dtype(at::kLong));
  torch::NoGradGuard no_grad;
  const auto out = emb(ids);
  REQUIRE(out.sizes() == at::IntArrayRef{b, t, 24});
  // Exactly the sum of the two lookups...
  REQUIRE(
      at::equal(out, emb->tok_emb(ids) + emb->pos_emb->weight.narrow(0, 0, t)));
  // ...so the difference is pos_emb for every row, up to the rounding of
  // (a + p) - a, at most one ulp of |a| + |p| < 16 for N(0, 1) weights.
  const auto diff = out - emb->tok_emb(ids);
  for (int64_t r = 0; r < b; ++r) {
    REQUIRE(diff[r].sub(diff[0]).abs().max().item<float>() <= 4e-6f);
    REQUIRE(
        diff[r]
            .sub(emb->pos_emb->weight.narrow(0, 0, t))
            .abs()
            .max()
            .item<float>() <= 4e-6f);
  }
}

TEST_CASE("GPTEmbedding: bad ids are clear exceptions", "[module]") {
  GPTEmbedding emb(GPTEmbeddingOptions(10, 4, 3));
  REQUIRE_THROWS_WITH(
      emb(long_tensor({1, 2, 3}, {3})),
      "GPTEmbedding: ids must be 2-D (B, T) (got 1-D, shape [3])");
  REQUIRE_THROWS_WITH(
      emb(at::ones({1, 2}, at::TensorOptions().dtype(at::kInt))),
      "GPTEmbedding: ids must be int64 (got Int)");
  REQUIRE_THROWS_WITH(
      emb(long_tensor({1, 2, 3, 4, 5}, {1, 5})),
      "GPTEmbedding: sequence length exceeds context_length (got T = 5, "
      "expected <= 4)");
  REQUIRE_THROWS_WITH(
      emb(long_tensor({1, 10}, {1, 2})),
      "GPTEmbedding: token id out of range (got 10, expected 0 <= id < 10)");
  REQUIRE_THROWS_AS(emb(long_tensor({1, 10}, {1, 2})), c10::IndexError);
  REQUIRE_THROWS_WITH(
      emb(long_tensor({-1, 0}, {2, 1})),
      "GPTEmbedding: token id out of range (got -1, expected 0 <= id < 10)");
  REQUIRE_NOTHROW(emb(long_tensor({0, 9, 9, 0}, {1, 4})));
  REQUIRE(emb(long_tensor({}, {0, 4})).sizes() == at::IntArrayRef{0, 4, 3});
  REQUIRE_THROWS_WITH(
      GPTEmbedding(GPTEmbeddingOptions(0, 4, 3)),
      "GPTEmbedding: vocab_size must be at least 1 (got 0)");
  REQUIRE_THROWS_WITH(
      GPTEmbedding(GPTEmbeddingOptions(10, 0, 3)),
      "GPTEmbedding: context_length must be at least 1 (got 0)");
  REQUIRE_THROWS_WITH(
      GPTEmbedding(GPTEmbeddingOptions(10, 4, 0)),
      "GPTEmbedding: emb_dim must be at least 1 (got 0)");
}

TEST_CASE("GPTEmbedding: forward runs on the ids' device", "[module][cuda]") {
  if (!torch::cuda::is_available()) {
    EMBER_SKIP_CASE(
        "GPTEmbedding on CUDA", "no CUDA device (torch::cuda::is_available)");
  }
  torch::manual_seed(123);
  GPTEmbedding emb(GPTEmbeddingOptions(100, 8, 16));
  const auto ids = long_tensor({1, 2, 3, 99, 0, 5}, {2, 3});
  torch::NoGradGuard no_grad;
  const auto cpu = emb(ids);
  emb->to(torch::kCUDA);
  const auto gpu = emb(ids.to(torch::kCUDA));
  REQUIRE(gpu.device().is_cuda());
  REQUIRE(at::equal(gpu.cpu(), cpu));
  REQUIRE_THROWS_WITH(
      emb(long_tensor({100}, {1, 1}).to(torch::kCUDA)),
      "GPTEmbedding: token id out of range (got 100, expected 0 <= id < 100)");
}

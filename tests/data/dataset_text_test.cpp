// GptDataset::from_text through the real GPT-2 tokenizer (needs
// src/tokenizer.cpp and data/gpt2 from scripts/setup.sh): the book's 5145
// tokens of the-verdict, <|endoftext|> allowed, the too-short-text error.
#include <cstdint>
#include <string>

#include "golden_util.hpp"
#include <ATen/ops/equal.h>
#include <catch2/catch.hpp>

#include <ember/data/gpt_dataset.hpp>
#include <ember/data/loader.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/io.hpp>

using ember::GptDataset;

namespace {
std::string verdict_text() {
  return ember::read_file(
      std::string(EMBER_SOURCE_DIR) + "/data/the-verdict.txt");
}
}  // namespace

TEST_CASE(
    "GptDataset: from_text tokenizes the-verdict as tiktoken does",
    "[dataset][tokenizer]") {
  const auto tok = ember::Tokenizer::gpt2();
  GptDataset ds = GptDataset::from_text(verdict_text(), tok, 4, 4);
  REQUIRE(ds.num_tokens() == 5145);
  REQUIRE(at::equal(ds.ids(), ember::test::verdict_ids()));
  REQUIRE(ds.size().value() == 1286);  // range(0, 5141, 4)
  ember::Loader loader(ds, {8, false, true, 0});
  const auto batch = loader.begin_pass().next();
  REQUIRE(batch->inputs[7][3].item<int64_t>() == 11);
  REQUIRE(batch->targets[7][3].item<int64_t>() == 287);
}

TEST_CASE(
    "GptDataset: from_text allows <|endoftext|>", "[dataset][tokenizer]") {
  const auto tok = ember::Tokenizer::gpt2();
  GptDataset ds = GptDataset::from_text(
      "Hello, world.<|endoftext|> In the sunlit terraces", tok, 2, 1);
  const auto ids = ds.ids();
  int64_t eot = 0;
  for (int64_t i = 0; i < ids.size(0); ++i) {
    eot += ids[i].item<int64_t>() == 50256 ? 1 : 0;
  }
  REQUIRE(eot == 1);
}

TEST_CASE(
    "GptDataset: from_text on a short text is the book's error",
    "[dataset][tokenizer]") {
  const auto tok = ember::Tokenizer::gpt2();
  REQUIRE_THROWS_WITH(
      GptDataset::from_text("hello world", tok, 2, 1),  // 2 tokens
      "GptDataset: the text must have at least max_length + 1 tokens (got 2 "
      "tokens, expected at least 3)");
  REQUIRE_NOTHROW(GptDataset::from_text("hello world", tok, 1, 1));
}

// prepare_run_data (run_data.hpp): the book's character split of a text, the
// token-id and length checks, and the batch count.
#include <cstdio>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include <ATen/ops/equal.h>
#include <catch2/catch.hpp>

#include <ember/data/run_data.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace {

ember::DataConfig small_config(const std::string& path) {
  ember::DataConfig data;
  data.path = path;
  data.train_ratio = 0.5;
  data.max_length = 2;
  data.stride = 2;
  data.batch_size = 1;
  data.shuffle = false;
  return data;
}

std::vector<int64_t> ids_of(const ember::Loader& loader) {
  const auto& t = loader.dataset().ids();
  return {t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel()};
}

std::vector<int64_t> encode(const std::string& text) {
  const auto ids = ember::Tokenizer::gpt2().encode(text);
  return {ids.begin(), ids.end()};
}

}  // namespace

TEST_CASE(
    "RunData: a text splits by code points, each part tokenized alone",
    "[dataset]") {
  ember::test::TempDir dir("run_data");
  // 28 code points in 34 bytes: 50% is code point 14, byte 17.
  const std::string text = "éééééé hello big world again";
  const std::string head = "éééééé hello b";
  REQUIRE(text.rfind(head, 0) == 0);
  ember::write_file_atomic(dir.file("t.txt"), text);
  const auto data =
      ember::prepare_run_data(small_config(dir.file("t.txt")), {}, stdout);
  CHECK(ids_of(data.train) == encode(head));
  CHECK(ids_of(data.val) == encode(text.substr(head.size())));
  CHECK(data.num_batches == static_cast<int64_t>(data.train.num_batches()));
  CHECK(data.num_batches > 0);
}

TEST_CASE(
    "RunData: ids outside the vocabulary and short parts are refused",
    "[dataset]") {
  ember::test::TempDir dir("run_data");
  ember::write_file_atomic(dir.file("t.txt"), "éééééé hello big world again");
  auto data = small_config(dir.file("t.txt"));
  ember::RunDataOptions small_vocab;
  small_vocab.vocab_size = 100;
  REQUIRE_THROWS_AS(
      ember::prepare_run_data(data, small_vocab, stdout), ember::ConfigError);
  data.max_length = 40;
  REQUIRE_THROWS_WITH(
      ember::prepare_run_data(data, {}, stdout),
      Catch::StartsWith(
          "data: the training part of " + dir.file("t.txt") + " has ") &&
          Catch::EndsWith(
              "tokens, expected at least max_length + 1 = 41; hint: lower "
              "data.max_length or use a longer text"));
  data.max_length = 2;
  data.batch_size = 100;
  ember::RunDataOptions big_batch;
  big_batch.global_batch = 100;
  data.drop_last = true;
  REQUIRE_THROWS_WITH(
      ember::prepare_run_data(data, big_batch, stdout),
      Catch::Contains("fewer than one batch of batch_size 100 (drop_last)"));
}

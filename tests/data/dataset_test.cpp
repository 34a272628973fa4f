// GptDataset: the book's windows (ch02 GPTDatasetV1), Python's range()
// count, views of one buffer, and the documented errors.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "golden_util.hpp"
#include <ATen/ops/arange.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/zeros.h>
#include <catch2/catch.hpp>
#include <torch/data/transforms/stack.h>
#include <unistd.h>

#include <ember/data/gpt_dataset.hpp>
#include <ember/text/mapped_token_file.hpp>
#include <ember/text/token_file.hpp>
#include <ember/util/error.hpp>

using ember::GptDataset;

namespace {

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  const auto* p = c.data_ptr<int64_t>();
  return {p, p + c.numel()};
}

// Python: len(range(0, n - max_length, stride)), by counting.
size_t python_range_len(int64_t n, int64_t max_length, int64_t stride) {
  size_t count = 0;
  for (int64_t i = 0; i < n - max_length; i += stride) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("GptDataset: the-verdict has the book's 5145 tokens", "[dataset]") {
  GptDataset ds(ember::test::verdict_ids(), 4, 1);
  REQUIRE(ds.num_tokens() == 5145);
  REQUIRE(
      to_vector(ds.ids().narrow(0, 0, 4)) ==
      std::vector<int64_t>{40, 367, 2885, 1464});
}

TEST_CASE("GptDataset: the book's x and y at offset 50", "[dataset]") {
  // enc_sample = enc_text[50:]; context_size = 4
  GptDataset ds(ember::test::verdict_ids(), 4, 1);
  auto ex = ds.get(50);
  REQUIRE(to_vector(ex.data) == std::vector<int64_t>{290, 4920, 2241, 287});
  REQUIRE(to_vector(ex.target) == std::vector<int64_t>{4920, 2241, 287, 257});
}

TEST_CASE("GptDataset: size is Python's range length", "[dataset]") {
  const int64_t n = GENERATE(5, 6, 9, 10, 11, 100, 257, 5145);
  const int64_t max_length = GENERATE(1, 2, 4, 5, 256);
  const int64_t stride = GENERATE(1, 2, 3, 4, 128, 256, 1000);
  if (n < max_length + 1) {
    return;  // an error, tested below
  }
  GptDataset ds(at::arange(n), max_length, stride);
  REQUIRE(ds.size().value() == python_range_len(n, max_length, stride));
  REQUIRE(ds.num_windows() == python_range_len(n, max_length, stride));
  REQUIRE(ds.size().value() >= 1);
}

TEST_CASE(
    "GptDataset: window i of ids 0..N-1 starts at i*stride", "[dataset]") {
  const int64_t n = GENERATE(take(20, random(2, 3000)));
  const int64_t max_length = GENERATE(take(3, random(1, 300)));
  const int64_t stride = GENERATE(take(3, random(1, 400)));
  if (n < max_length + 1) {
    return;
  }
  GptDataset ds(at::arange(n), max_length, stride);
  REQUIRE(ds.size().value() == python_range_len(n, max_length, stride));
  const auto w = static_cast<int64_t>(ds.num_windows());
  for (int64_t i : {int64_t{0}, w / 2, w - 1}) {
    auto ex = ds.get(static_cast<size_t>(i));
    REQUIRE(ex.data.sizes() == at::IntArrayRef{max_length});
    REQUIRE(ex.target.sizes() == at::IntArrayRef{max_length});
    REQUIRE(ex.data.scalar_type() == at::kLong);
    const auto in = to_vector(ex.data);
    const auto tg = to_vector(ex.target);
    for (int64_t j = 0; j < max_length; ++j) {
      REQUIRE(in[static_cast<size_t>(j)] == i * stride + j);
      REQUIRE(tg[static_cast<size_t>(j)] == in[static_cast<size_t>(j)] + 1);
    }
  }
  // The strided (W, T) views agree with get().
  REQUIRE(
      at::equal(ds.inputs()[w - 1], ds.get(static_cast<size_t>(w - 1)).data));
  REQUIRE(at::equal(ds.targets()[0], ds.get(0).target));
}

TEST_CASE("GptDataset: windows are views of one buffer", "[dataset]") {
  GptDataset ds(at::arange(1000), 256, 1);
  const auto* base = ds.ids().data_ptr<int64_t>();
  for (size_t i : {size_t{0}, size_t{1}, size_t{500}, ds.num_windows() - 1}) {
    auto ex = ds.get(i);
    REQUIRE(ex.data.is_alias_of(ds.ids()));
    REQUIRE(ex.target.is_alias_of(ds.ids()));
    REQUIRE(ex.data.data_ptr<int64_t>() == base + i);
    REQUIRE(ex.target.data_ptr<int64_t>() == base + i + 1);
  }
  REQUIRE(ds.inputs().is_alias_of(ds.ids()));
  // Storage holds the tokens once, whatever the window count.
  REQUIRE(ds.ids().storage().nbytes() == 1000 * sizeof(int64_t));
  // Copies (one per loader worker) share the buffer.
  GptDataset copy = ds;
  REQUIRE(copy.ids().data_ptr() == ds.ids().data_ptr());
}

TEST_CASE("GptDataset: int64 contiguous ids are not copied", "[dataset]") {
  auto ids = at::arange(100);
  GptDataset ds(ids, 4, 4);
  REQUIRE(ds.ids().data_ptr() == ids.data_ptr());
}

TEST_CASE("GptDataset: any integer dtype is stored as int64", "[dataset]") {
  auto ids = at::arange(100, at::TensorOptions().dtype(at::kInt));
  GptDataset ds(ids, 4, 3);
  REQUIRE(ds.ids().scalar_type() == at::kLong);
  REQUIRE(ds.ids().is_contiguous());
  REQUIRE(to_vector(ds.get(2).data) == std::vector<int64_t>{6, 7, 8, 9});
  // a non-contiguous view is made contiguous
  GptDataset strided(at::arange(200).slice(0, 0, 200, 2), 2, 1);
  REQUIRE(to_vector(strided.get(1).target) == std::vector<int64_t>{4, 6});
}

TEST_CASE("GptDataset: bad parameters are clear errors", "[dataset]") {
  const auto ids = at::arange(10);
  REQUIRE_THROWS_WITH(
      GptDataset(ids, 0, 1),
      "GptDataset: max_length must be at least 1 (got 0)");
  REQUIRE_THROWS_WITH(
      GptDataset(ids, 4, 0), "GptDataset: stride must be at least 1 (got 0)");
  REQUIRE_THROWS_WITH(
      GptDataset(ids, 4, -3), "GptDataset: stride must be at least 1 (got -3)");
  REQUIRE_THROWS_WITH(
      GptDataset(ids, 10, 1),
      "GptDataset: the text must have at least max_length + 1 tokens (got 10 "
      "tokens, expected at least 11)");
  REQUIRE_NOTHROW(GptDataset(ids, 9, 1));
  REQUIRE_THROWS_WITH(
      GptDataset(at::zeros({2, 5}, at::TensorOptions().dtype(at::kLong)), 2, 1),
      "GptDataset: ids must be 1-D (got 2-D, shape [2, 5])");
  REQUIRE_THROWS_WITH(
      GptDataset(at::zeros({10}), 2, 1),
      "GptDataset: ids must have an integer dtype (got Float)");
  GptDataset ds(ids, 4, 2);  // windows at 0, 2, 4
  REQUIRE_THROWS_WITH(
      ds.get(3), "GptDataset: window index out of range (got 3, expected < 3)");
  REQUIRE_THROWS_AS(ds.get(3), c10::IndexError);
  REQUIRE_NOTHROW(ember::check_fits_context(ds, 4));
  REQUIRE_THROWS_WITH(
      ember::check_fits_context(ds, 3),
      "GptDataset: max_length exceeds the model's context_length (got 4, "
      "expected <= 3)");
}

TEST_CASE("GptDataset: works with LibTorch's Stack transform", "[dataset]") {
  // get_batch() + Stack<>, what a torch::data::DataLoader would do.
  GptDataset ds(at::arange(20), 4, 4);
  auto batch =
      torch::data::transforms::Stack<>().apply_batch(ds.get_batch({2, 0}));
  REQUIRE(batch.data.sizes() == at::IntArrayRef{2, 4});
  REQUIRE(
      to_vector(batch.data.flatten()) ==
      std::vector<int64_t>{8, 9, 10, 11, 0, 1, 2, 3});
  REQUIRE(
      to_vector(batch.target.flatten()) ==
      std::vector<int64_t>{9, 10, 11, 12, 1, 2, 3, 4});
}

TEST_CASE(
    "GptDataset: a token file serves the in-memory windows", "[dataset]") {
  const uint32_t width = GENERATE(16u, 32u);
  std::vector<ember::TokenId> v(1000);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<ember::TokenId>((i * 31 + 5) % 50257);
  v[10] = 50256;
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("ember_dataset_map_" + std::to_string(::getpid()) + ".bin"))
          .string();
  {
    ember::TokenFileWriter w(path, width);
    w.append(v);
    w.finish();
  }
  auto all = at::zeros({1000}, at::kLong);
  for (int64_t i = 0; i < 1000; ++i)
    all[i] = static_cast<int64_t>(v[static_cast<size_t>(i)]);
  const auto [max_length, stride] = GENERATE(
      std::pair<int64_t, int64_t>{4, 4},
      std::pair<int64_t, int64_t>{8, 1},
      std::pair<int64_t, int64_t>{16, 5});
  SECTION("the whole file, via from_token_file") {
    GptDataset mem(all, max_length, stride);
    GptDataset map = GptDataset::from_token_file(path, max_length, stride);
    REQUIRE(map.is_mapped());
    REQUIRE(map.num_tokens() == 1000);
    REQUIRE(map.size() == mem.size());
    std::vector<int64_t> buf(static_cast<size_t>(max_length) + 1);
    for (size_t i = 0; i < mem.num_windows(); ++i) {
      const auto a = mem.get(i);
      const auto b = map.get(i);
      REQUIRE(at::equal(a.data, b.data));
      REQUIRE(at::equal(a.target, b.target));
      map.copy_window(i, buf.data());
      REQUIRE(buf.front() == a.data[0].item<int64_t>());
      REQUIRE(buf.back() == a.target[max_length - 1].item<int64_t>());
    }
    REQUIRE_THROWS_AS(map.get(mem.num_windows()), c10::IndexError);
    REQUIRE_THROWS_WITH(
        map.ids(),
        "GptDataset: ids() is not available for a memory-mapped token file "
        "(it would load the whole file); hint: use get() or copy_window()");
  }
  SECTION("a token range of the file") {
    auto file = std::make_shared<const ember::MappedTokenFile>(path);
    GptDataset mem(all.narrow(0, 100, 600), max_length, stride);
    GptDataset map(file, max_length, stride, 100, 600);
    REQUIRE(map.size() == mem.size());
    REQUIRE(map.file_begin() == 100);
    for (size_t i = 0; i < mem.num_windows(); ++i) {
      REQUIRE(at::equal(mem.get(i).data, map.get(i).data));
      REQUIRE(at::equal(mem.get(i).target, map.get(i).target));
    }
    // Up to the end when no count is given.
    REQUIRE(GptDataset(file, max_length, stride, 900).num_tokens() == 100);
    REQUIRE_THROWS_WITH(
        GptDataset(file, 4, 4, 900, 101),
        "GptDataset: token range [900, 1001) runs past the end of the token "
        "file (1000 tokens)");
    REQUIRE_THROWS_WITH(
        GptDataset(file, 4, 4, 996),
        "GptDataset: the text must have at least max_length + 1 tokens (got 4 "
        "tokens, expected at least 5)");
  }
  std::filesystem::remove(path);
}

TEST_CASE("GptDataset: a corrupt token file is refused", "[dataset]") {
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("ember_dataset_bad_" + std::to_string(::getpid()) + ".bin"))
          .string();
  {
    ember::TokenFileWriter w(path, 16);
    w.append(std::vector<ember::TokenId>(100, 7));
    w.finish();
  }
  std::filesystem::resize_file(path, 64 + 2 * 99);
  REQUIRE_THROWS_AS(
      GptDataset::from_token_file(path, 4, 4), ember::TokenizerError);
  std::filesystem::remove(path);
}

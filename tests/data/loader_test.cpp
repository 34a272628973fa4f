// Loader: the book's batches, and PyTorch 1.13 DataLoader's shuffled order
// and global-generator draws, pass after pass (tests/golden/loader_orders.txt
// from tests/reference/gen_reference.py).
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "golden_util.hpp"
#include "skip.hpp"
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/equal.h>
#include <ATen/ops/rand.h>
#include <catch2/catch.hpp>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <unistd.h>

#include <ember/data/gpt_dataset.hpp>
#include <ember/data/loader.hpp>
#include <ember/text/mapped_token_file.hpp>
#include <ember/text/token_file.hpp>

using ember::Batch;
using ember::GptDataset;
using ember::Loader;
using ember::LoaderOptions;

namespace {

using Rows = std::vector<std::vector<int64_t>>;

Rows to_rows(const torch::Tensor& t) {
  Rows rows;
  const torch::Tensor c = t.contiguous();
  for (int64_t i = 0; i < c.size(0); ++i) {
    const auto* p = c[i].data_ptr<int64_t>();
    rows.emplace_back(p, p + c.size(1));
  }
  return rows;
}

LoaderOptions opts(
    int64_t batch, bool shuffle, bool drop_last, int64_t nw = 0) {
  LoaderOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.drop_last = drop_last;
  o.num_workers = nw;
  return o;
}

// torch.empty((), dtype=torch.int64).random_() on the global generator.
int64_t draw_int64() {
  return at::empty({}, at::TensorOptions().dtype(at::kLong))
      .random_(at::detail::getDefaultCPUGenerator())
      .item<int64_t>();
}

float global_rand() {
  return at::rand({}).item<float>();
}

struct Scenario {
  std::string name;
  std::map<std::string, std::string> params;
  struct PassRecord {
    std::vector<std::vector<int64_t>> batches;  // window indices
    float rand = 0;
  };
  std::vector<PassRecord> passes;

  int64_t get(const std::string& key) const {
    return std::stoll(params.at(key));
  }
};

std::vector<Scenario> load_scenarios() {
  std::vector<Scenario> out;
  for (const auto& line : ember::test::golden_lines("loader_orders.txt")) {
    if (line[0] == "scenario") {
      Scenario s;
      s.name = line[1];
      for (size_t i = 2; i < line.size(); ++i) {
        const auto eq = line[i].find('=');
        s.params[line[i].substr(0, eq)] = line[i].substr(eq + 1);
      }
      out.push_back(s);
    } else if (line[0] == "pass") {
      out.back().passes.emplace_back();
    } else if (line[0] == "b") {
      std::vector<int64_t> b;
      for (size_t i = 1; i < line.size(); ++i) {
        b.push_back(std::stoll(line[i]));
      }
      out.back().passes.back().batches.push_back(b);
    } else if (line[0] == "rand") {
      out.back().passes.back().rand = ember::test::parse_f32(line[1]);
    }
  }
  return out;
}

GptDataset scenario_dataset(const Scenario& s) {
  const std::string source = s.params.at("source");
  torch::Tensor ids = source == "verdict"
                          ? ember::test::verdict_ids()
                          : at::arange(static_cast<int64_t>(std::stoll(
                                source.substr(source.find(':') + 1))));
  return GptDataset(ids, s.get("max_length"), s.get("stride"));
}

// The same ids as a memory-mapped token file of `width_bits` (written to a
// temporary file that the mapping keeps alive after it is removed).
GptDataset mapped_copy(const GptDataset& ds, uint32_t width_bits) {
  static int counter = 0;
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("ember_loader_test_" + std::to_string(::getpid()) +
                             "_" + std::to_string(counter++) + ".bin"))
                               .string();
  const torch::Tensor ids = ds.ids();
  const auto* p = ids.data_ptr<int64_t>();
  std::vector<ember::TokenId> v(p, p + ids.numel());
  ember::TokenFileWriter w(path, width_bits);
  w.append(v);
  w.finish();
  auto file = std::make_shared<const ember::MappedTokenFile>(path);
  std::filesystem::remove(path);
  return GptDataset(file, ds.max_length(), ds.stride());
}

// Replays a golden scenario: torch.manual_seed(seed); then per pass:
// iter(loader), up to `take` batches, torch.rand(()). With `mapped_width`
// the loader serves the same ids from a token file of that width.
void replay(const Scenario& s, int64_t num_workers, uint32_t mapped_width = 0) {
  INFO(
      "scenario " << s.name << ", num_workers " << num_workers
                  << ", token file width " << mapped_width);
  GptDataset ds = scenario_dataset(s);
  Loader loader(
      mapped_width == 0 ? ds : mapped_copy(ds, mapped_width),
      opts(
          s.get("batch_size"),
          s.get("shuffle") != 0,
          s.get("drop_last") != 0,
          num_workers));
  torch::manual_seed(static_cast<uint64_t>(s.get("seed")));
  const int64_t take = s.get("take");
  REQUIRE(static_cast<int64_t>(s.passes.size()) == s.get("epochs"));
  for (size_t e = 0; e < s.passes.size(); ++e) {
    INFO("pass " << e);
    const auto& expected = s.passes[e];
    Loader::Pass pass = loader.begin_pass();
    size_t count = 0;
    if (take != 0) {
      while (auto batch = pass.next()) {
        REQUIRE(count < expected.batches.size());
        const auto& idx = expected.batches[count];
        REQUIRE(batch->inputs.size(0) == static_cast<int64_t>(idx.size()));
        for (size_t r = 0; r < idx.size(); ++r) {
          const auto i = static_cast<int64_t>(r);
          REQUIRE(at::equal(batch->inputs[i], ds.inputs()[idx[r]]));
          REQUIRE(at::equal(batch->targets[i], ds.targets()[idx[r]]));
        }
        ++count;
        REQUIRE(pass.position() == count);
        if (take > 0 && static_cast<int64_t>(count) == take) {
          break;
        }
      }
    }
    REQUIRE(count == expected.batches.size());
    if (take < 0) {
      REQUIRE(count == loader.num_batches());
    }
    // The global generator is where PyTorch's is: the next draw agrees.
    REQUIRE(global_rand() == expected.rand);
  }
}

}  // namespace

TEST_CASE(
    "Loader: the book's batches, batch 1, length 4, stride 1", "[dataset]") {
  Loader loader(
      GptDataset(ember::test::verdict_ids(), 4, 1), opts(1, false, true));
  auto pass = loader.begin_pass();
  auto first = pass.next();
  REQUIRE(first.has_value());
  REQUIRE(to_rows(first->inputs) == Rows{{40, 367, 2885, 1464}});
  REQUIRE(to_rows(first->targets) == Rows{{367, 2885, 1464, 1807}});
  auto second = pass.next();
  REQUIRE(to_rows(second->inputs) == Rows{{367, 2885, 1464, 1807}});
  REQUIRE(to_rows(second->targets) == Rows{{2885, 1464, 1807, 3619}});
}

TEST_CASE("Loader: the book's batch 8, length 4, stride 4", "[dataset]") {
  Loader loader(
      GptDataset(ember::test::verdict_ids(), 4, 4), opts(8, false, true));
  auto batch = loader.begin_pass().next();
  REQUIRE(batch.has_value());
  REQUIRE(batch->inputs.sizes() == at::IntArrayRef{8, 4});
  REQUIRE(batch->inputs.scalar_type() == at::kLong);
  REQUIRE(
      to_rows(batch->inputs) == Rows{
                                    {40, 367, 2885, 1464},
                                    {1807, 3619, 402, 271},
                                    {10899, 2138, 257, 7026},
                                    {15632, 438, 2016, 257},
                                    {922, 5891, 1576, 438},
                                    {568, 340, 373, 645},
                                    {1049, 5975, 284, 502},
                                    {284, 3285, 326, 11}});
  REQUIRE(
      to_rows(batch->targets) == Rows{
                                     {367, 2885, 1464, 1807},
                                     {3619, 402, 271, 10899},
                                     {2138, 257, 7026, 15632},
                                     {438, 2016, 257, 922},
                                     {5891, 1576, 438, 568},
                                     {340, 373, 645, 1049},
                                     {5975, 284, 502, 284},
                                     {3285, 326, 11, 287}});
}

TEST_CASE("Loader: num_batches is len(DataLoader)", "[dataset]") {
  // 103 ids, max_length 4, stride 3: range(0, 99, 3) -> 33 windows
  GptDataset ds(at::arange(103), 4, 3);
  REQUIRE(ds.num_windows() == 33);
  REQUIRE(Loader(ds, opts(4, true, true)).num_batches() == 8);
  REQUIRE(Loader(ds, opts(4, true, false)).num_batches() == 9);
  REQUIRE(Loader(ds, opts(33, false, true)).num_batches() == 1);
  REQUIRE(Loader(ds, opts(34, false, true)).num_batches() == 0);
  REQUIRE(Loader(ds, opts(34, false, false)).num_batches() == 1);
  // drop_last off: the last batch is short
  auto pass = Loader(ds, opts(4, false, false)).begin_pass();
  Batch last;
  size_t count = 0;
  while (auto b = pass.next()) {
    last = *b;
    ++count;
  }
  REQUIRE(count == 9);
  REQUIRE(last.inputs.sizes() == at::IntArrayRef{1, 4});
  REQUIRE(to_rows(last.inputs) == Rows{{96, 97, 98, 99}});
  REQUIRE(!pass.next().has_value());  // stays exhausted
}

TEST_CASE("Loader: shuffled order is PyTorch's, pass after pass", "[dataset]") {
  const auto scenarios = load_scenarios();
  REQUIRE(scenarios.size() >= 10);
  for (const auto& s : scenarios) {
    replay(s, 0);
  }
}

TEST_CASE("Loader: worker threads yield the identical order", "[dataset]") {
  for (const auto& s : load_scenarios()) {
    replay(s, GENERATE(1, 3));
  }
}

TEST_CASE(
    "Loader: a token-file dataset gives PyTorch's batches and draws too",
    "[dataset]") {
  const uint32_t width = GENERATE(16u, 32u);
  const int64_t workers = GENERATE(0, 2);
  for (const auto& s : load_scenarios()) {
    replay(s, workers, width);
  }
}

TEST_CASE(
    "Loader: token-file and in-memory passes are equal batch for batch",
    "[dataset]") {
  // Ids that need 16 bits, a token range inside the file, both shuffles,
  // both drop_last, a resumed pass.
  std::vector<ember::TokenId> v(5000);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<ember::TokenId>((i * 7919 + 13) % 50257);
  const std::string path =
      (std::filesystem::temp_directory_path() /
       ("ember_loader_eq_" + std::to_string(::getpid()) + ".bin"))
          .string();
  {
    ember::TokenFileWriter w(path, 16);
    w.append(v);
    w.finish();
  }
  auto file = std::make_shared<const ember::MappedTokenFile>(path);
  std::filesystem::remove(path);
  const uint64_t begin = 123;
  const uint64_t count = 4000;
  auto all = at::empty({static_cast<int64_t>(v.size())}, at::kLong);
  for (size_t i = 0; i < v.size(); ++i)
    all[static_cast<int64_t>(i)] = static_cast<int64_t>(v[i]);
  const torch::Tensor part =
      all.narrow(0, static_cast<int64_t>(begin), static_cast<int64_t>(count));
  const int64_t stride = GENERATE(1, 7, 64);
  const bool shuffle = GENERATE(false, true);
  const bool drop_last = GENERATE(false, true);
  INFO("stride " << stride << " shuffle " << shuffle << " drop " << drop_last);
  Loader mem(GptDataset(part, 32, stride), opts(6, shuffle, drop_last));
  Loader map(
      GptDataset(file, 32, stride, begin, count), opts(6, shuffle, drop_last));
  REQUIRE(map.num_batches() == mem.num_batches());
  torch::manual_seed(77);
  auto pa = mem.begin_pass();
  std::vector<Batch> expected;
  while (auto b = pa.next()) expected.push_back(*b);
  const float after_mem = global_rand();
  torch::manual_seed(77);
  auto pb = map.begin_pass();
  size_t k = 0;
  while (auto b = pb.next()) {
    REQUIRE(k < expected.size());
    REQUIRE(at::equal(b->inputs, expected[k].inputs));
    REQUIRE(at::equal(b->targets, expected[k].targets));
    ++k;
  }
  REQUIRE(k == expected.size());
  REQUIRE(global_rand() == after_mem);
  REQUIRE(pb.sampler_seed() == pa.sampler_seed());
  // A resumed pass continues with the same batches.
  if (expected.size() > 3) {
    auto resumed = map.resume_pass(pa.sampler_seed(), 3);
    for (size_t j = 3; j < expected.size(); ++j) {
      auto b = resumed.next();
      REQUIRE(b.has_value());
      REQUIRE(at::equal(b->inputs, expected[j].inputs));
    }
    REQUIRE(!resumed.next().has_value());
  }
}

TEST_CASE("Loader: ids 0..N-1 give input[i][j] == w*stride + j", "[dataset]") {
  const int64_t n = GENERATE(take(10, random(50, 2000)));
  const int64_t stride = GENERATE(take(2, random(1, 9)));
  const int64_t max_length = GENERATE(1, 7, 32);
  const int64_t batch = GENERATE(1, 5);
  Loader loader(
      GptDataset(at::arange(n), max_length, stride), opts(batch, true, false));
  torch::manual_seed(static_cast<uint64_t>(n));
  auto pass = loader.begin_pass();
  std::vector<int> seen(loader.dataset().num_windows(), 0);
  while (auto b = pass.next()) {
    const Rows in = to_rows(b->inputs);
    const Rows tg = to_rows(b->targets);
    for (size_t r = 0; r < in.size(); ++r) {
      const int64_t w = in[r][0] / stride;
      seen.at(static_cast<size_t>(w))++;
      for (size_t j = 0; j < in[r].size(); ++j) {
        REQUIRE(in[r][j] == w * stride + static_cast<int64_t>(j));
        REQUIRE(tg[r][j] == in[r][j] + 1);
      }
    }
  }
  // a permutation: every window exactly once
  REQUIRE(
      std::count(seen.begin(), seen.end(), 1) ==
      static_cast<long>(seen.size()));
}

TEST_CASE(
    "Loader: the sampler seed is drawn at the first next()", "[dataset]") {
  Loader loader(GptDataset(at::arange(100), 4, 4), opts(4, true, true));
  torch::manual_seed(123);
  auto pass = loader.begin_pass();
  REQUIRE(pass.base_seed() >= 0);
  REQUIRE(pass.sampler_seed() == -1);
  const auto first = pass.next();
  REQUIRE(pass.sampler_seed() >= 0);
  // The same two draws, by hand.
  torch::manual_seed(123);
  const int64_t base = draw_int64();
  const int64_t seed = draw_int64();
  REQUIRE(pass.base_seed() == base);
  REQUIRE(pass.sampler_seed() == seed);
  // Unshuffled: one draw per pass, no sampler seed.
  Loader seq(GptDataset(at::arange(100), 4, 4), opts(4, false, true));
  torch::manual_seed(1);
  auto p = seq.begin_pass();
  p.next();
  REQUIRE(p.sampler_seed() == -1);
  const float after = global_rand();
  torch::manual_seed(1);
  draw_int64();
  REQUIRE(global_rand() == after);
}

TEST_CASE(
    "Loader: resume_pass continues a pass and draws nothing", "[dataset]") {
  const int64_t nw = GENERATE(0, 2);
  Loader loader(GptDataset(at::arange(500), 8, 3), opts(5, true, false, nw));
  torch::manual_seed(77);
  auto full = loader.begin_pass();
  std::vector<Batch> all;
  while (auto b = full.next()) {
    all.push_back(*b);
  }
  REQUIRE(all.size() == loader.num_batches());
  const size_t k = GENERATE(size_t{0}, size_t{1}, size_t{13}, size_t{33});
  torch::manual_seed(5);
  auto resumed = loader.resume_pass(full.sampler_seed(), k);
  REQUIRE(resumed.position() == k);
  REQUIRE(resumed.sampler_seed() == full.sampler_seed());
  size_t i = k;
  while (auto b = resumed.next()) {
    REQUIRE(at::equal(b->inputs, all.at(i).inputs));
    REQUIRE(at::equal(b->targets, all.at(i).targets));
    ++i;
  }
  REQUIRE(i == all.size());
  const float after = global_rand();
  torch::manual_seed(5);
  REQUIRE(global_rand() == after);  // nothing was drawn
}

TEST_CASE(
    "Loader: batches are fresh tensors, passes outlive the loader",
    "[dataset]") {
  GptDataset ds(at::arange(64), 4, 4);
  std::optional<Loader::Pass> pass;
  {
    Loader loader(ds, opts(2, false, true));
    pass.emplace(loader.begin_pass());
  }
  auto b = pass->next();
  REQUIRE(b.has_value());
  REQUIRE(!b->inputs.is_alias_of(ds.ids()));
  REQUIRE(b->inputs.is_contiguous());
  b->inputs.fill_(-1);  // must not reach the dataset
  REQUIRE(ds.ids()[0].item<int64_t>() == 0);
  Loader shuffled(ds, opts(2, true, true, 2));
  auto p2 = shuffled.begin_pass();
  auto b2 = p2.next();
  REQUIRE(!b2->inputs.is_alias_of(ds.ids()));
  // a pass abandoned with prefetching workers running shuts down cleanly
}

TEST_CASE("Loader: bad options are clear errors", "[dataset]") {
  GptDataset ds(at::arange(20), 4, 4);
  REQUIRE_THROWS_WITH(
      Loader(ds, opts(0, true, true)),
      "Loader: batch_size must be at least 1 (got 0)");
  REQUIRE_THROWS_WITH(
      Loader(ds, opts(2, true, true, -1)),
      "Loader: num_workers must be at least 0 (got -1)");
  Loader loader(ds, opts(2, true, true));
  REQUIRE_THROWS_WITH(
      loader.resume_pass(5, 3),
      "Loader: resume position out of range (got 3, expected <= 2)");
  REQUIRE_THROWS_WITH(
      loader.resume_pass(-1, 1),
      "Loader: resuming a shuffled pass needs its sampler seed (got -1, "
      "expected >= 0); hint: save Pass::sampler_seed() after the first batch");
  Loader seq(ds, opts(2, false, true));
  REQUIRE_NOTHROW(seq.resume_pass(-1, 1));
}

TEST_CASE(
    "Loader: a dataset on CUDA yields the CPU batches", "[dataset][cuda]") {
  if (!torch::cuda::is_available()) {
    EMBER_SKIP_CASE(
        "Loader over a CUDA dataset",
        "no CUDA device (torch::cuda::is_available)");
  }
  GptDataset cpu(at::arange(300), 8, 3);
  GptDataset gpu(at::arange(300).to(torch::kCUDA), 8, 3);
  for (const bool shuffle : {false, true}) {
    Loader a(cpu, opts(4, shuffle, false));
    Loader b(gpu, opts(4, shuffle, false));
    // The sampler seed is drawn from the global generator at a pass's first
    // batch (as PyTorch's RandomSampler does), so each pass runs to the end
    // after its own manual_seed.
    torch::manual_seed(3);
    auto pa = a.begin_pass();
    std::vector<Batch> want;
    while (auto x = pa.next()) want.push_back(*x);
    torch::manual_seed(3);
    auto pb = b.begin_pass();
    size_t i = 0;
    while (auto y = pb.next()) {
      REQUIRE(i < want.size());
      REQUIRE(y->inputs.device().is_cuda());
      INFO("shuffle " << shuffle << ", batch " << i);
      REQUIRE(at::equal(want[i].inputs, y->inputs.cpu()));
      REQUIRE(at::equal(want[i].targets, y->targets.cpu()));
      ++i;
    }
    REQUIRE(i == want.size());
  }
}

// Dataset benchmark (issue 3 section 6): build time, resident bytes per
// token and batches/s of GptDataset + Loader, for one (stride, max_length,
// batch) setting per run. bench/dataset_bench.sh runs it beside the book's
// Python pipeline (bench/dataset_bench.py) on the same tokens and prints the
// table of bench/README.md.
//   dataset_bench --tokens 200000 --max-length 256 --stride 1 --batch-size 8
// Prints one JSON line. Tokens: the-verdict's ids (tests/golden/
// the_verdict_ids.txt) repeated up to --tokens, identical to the Python side.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/ops/from_blob.h>
#include <fmt/core.h>
#include <torch/utils.h>

#include <ember/data/gpt_dataset.hpp>
#include <ember/data/loader.hpp>
#include <ember/util/io.hpp>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Resident set size in bytes (/proc/self/statm, field 2, in pages).
int64_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0;
  int64_t resident = 0;
  f >> size >> resident;
  return resident * 4096;
}

std::vector<int64_t> load_ids(const std::string& path, int64_t n) {
  std::istringstream in(ember::read_file(path));
  std::vector<int64_t> verdict;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream words(line);
    for (int64_t v = 0; words >> v;) {
      verdict.push_back(v);
    }
  }
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(n));
  while (static_cast<int64_t>(ids.size()) < n) {
    ids.push_back(verdict[ids.size() % verdict.size()]);
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t tokens = 200000;
  int64_t max_length = 256;
  int64_t stride = 1;
  int64_t batch_size = 8;
  int64_t num_workers = 0;
  double min_seconds = 2.0;
  std::string ids_path = "tests/golden/the_verdict_ids.txt";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--tokens") {
      tokens = std::stoll(value);
    } else if (key == "--max-length") {
      max_length = std::stoll(value);
    } else if (key == "--stride") {
      stride = std::stoll(value);
    } else if (key == "--batch-size") {
      batch_size = std::stoll(value);
    } else if (key == "--num-workers") {
      num_workers = std::stoll(value);
    } else if (key == "--seconds") {
      min_seconds = std::stod(value);
    } else if (key == "--ids") {
      ids_path = value;
    } else {
      fmt::print(stderr, "dataset_bench: unknown option {}\n", key);
      return 2;
    }
  }
  // Same as the Python side: one intra-op thread, no worker processes.
  at::set_num_threads(1);
  torch::manual_seed(123);

  // The token ids as a plain vector (Python: a list), not counted.
  std::vector<int64_t> ids = load_ids(ids_path, tokens);
  {
    // Warm-up on a small copy: the first call of each op faults in library
    // code pages, which would otherwise count as dataset memory.
    ember::GptDataset warm(
        at::from_blob(
            ids.data(), {max_length + 1}, at::TensorOptions().dtype(at::kLong))
            .clone(),
        max_length,
        stride);
    ember::Loader warm_loader(warm, {1, true, true, 0});
    warm_loader.begin_pass().next();
  }
  const int64_t rss0 = rss_bytes();
  const auto t0 = Clock::now();
  // Build = copy the ids into the dataset's one buffer (what from_text does
  // after tokenizing) and set up the windows.
  ember::GptDataset dataset(
      at::from_blob(
          ids.data(),
          {static_cast<int64_t>(ids.size())},
          at::TensorOptions().dtype(at::kLong))
          .clone(),
      max_length,
      stride);
  const double build_s = seconds_since(t0);
  const int64_t rss1 = rss_bytes();

  ember::LoaderOptions options;
  options.batch_size = batch_size;
  options.shuffle = true;  // create_dataloader_v1's defaults
  options.drop_last = true;
  options.num_workers = num_workers;
  ember::Loader loader(dataset, options);
  int64_t batches = 0;
  int64_t checksum = 0;
  const auto t1 = Clock::now();
  double elapsed = 0;
  do {
    auto pass = loader.begin_pass();
    while (auto batch = pass.next()) {
      checksum += batch->inputs.data_ptr<int64_t>()[0];
      ++batches;
    }
    elapsed = seconds_since(t1);
  } while (elapsed < min_seconds);
  fmt::print(
      "{{\"impl\": \"ember\", \"tokens\": {}, \"max_length\": {}, \"stride\": "
      "{}, \"batch_size\": {}, \"windows\": {}, \"build_s\": {:.6f}, "
      "\"rss_bytes_per_token\": {:.2f}, \"buffer_bytes_per_token\": {:.2f}, "
      "\"batches\": {}, \"batches_per_s\": {:.1f}, \"checksum\": {}}}\n",
      tokens,
      max_length,
      stride,
      batch_size,
      dataset.num_windows(),
      build_s,
      static_cast<double>(rss1 - rss0) / static_cast<double>(tokens),
      static_cast<double>(dataset.ids().storage().nbytes()) /
          static_cast<double>(tokens),
      batches,
      static_cast<double>(batches) / elapsed,
      checksum);
  return 0;
}

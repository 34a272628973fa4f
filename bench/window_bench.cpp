// Window-serving benchmark (issue 7): shuffled batches/s of Loader over the
// same ids held in memory (one int64 tensor) and served from a memory-mapped
// token file (widened to int64 per batch), in one run, one thread.
//   window_bench --token-file corpus.bin [--max-length 256] [--stride 256]
//                [--batch-size 8] [--seconds 2]
// The in-memory side needs 8 bytes per token: use a token file that fits.
// Prints one JSON line per source.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <fmt/core.h>
#include <torch/utils.h>

#include <ember/data/gpt_dataset.hpp>
#include <ember/data/loader.hpp>
#include <ember/text/mapped_token_file.hpp>

namespace {

using Clock = std::chrono::steady_clock;

// Full shuffled passes for at least `min_s` seconds: batches per second.
double batches_per_second(ember::Loader& loader, double min_s) {
  torch::manual_seed(123);
  int64_t batches = 0;
  int64_t checksum = 0;
  const auto t0 = Clock::now();
  double s = 0;
  do {
    auto pass = loader.begin_pass();
    while (auto b = pass.next()) {
      checksum += b->inputs.data_ptr<int64_t>()[0];
      ++batches;
      s = std::chrono::duration<double>(Clock::now() - t0).count();
      if (s >= min_s) break;
    }
  } while (s < min_s);
  std::fprintf(stderr, "checksum %lld\n", static_cast<long long>(checksum));
  return static_cast<double>(batches) / s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  int64_t max_length = 256;
  int64_t stride = 256;
  int64_t batch = 8;
  double seconds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--token-file") path = v;
    if (k == "--max-length") max_length = std::stoll(v);
    if (k == "--stride") stride = std::stoll(v);
    if (k == "--batch-size") batch = std::stoll(v);
    if (k == "--seconds") seconds = std::stod(v);
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: window_bench --token-file PATH [...]\n");
    return 2;
  }
  at::set_num_threads(1);
  auto file = std::make_shared<const ember::MappedTokenFile>(path);
  const auto n = static_cast<int64_t>(file->size());
  auto ids = at::empty({n}, at::kLong);
  file->copy_to(0, file->size(), ids.data_ptr<int64_t>());
  ember::LoaderOptions opts;
  opts.batch_size = batch;
  ember::Loader memory(ember::GptDataset(ids, max_length, stride), opts);
  ember::Loader mapped(ember::GptDataset(file, max_length, stride), opts);
  for (int rep = 0; rep < 2; ++rep) {  // warm-up, then measured
    const double a = batches_per_second(memory, rep == 0 ? 0.3 : seconds);
    const double b = batches_per_second(mapped, rep == 0 ? 0.3 : seconds);
    if (rep == 0) continue;
    const double tok = static_cast<double>(batch * max_length);
    fmt::print(
        "{{\"source\": \"memory\", \"tokens\": {}, \"windows\": {}, "
        "\"batches_per_s\": {:.0f}, \"tokens_per_s\": {:.0f}}}\n",
        n,
        memory.dataset().num_windows(),
        a,
        a * tok);
    fmt::print(
        "{{\"source\": \"mapped\", \"tokens\": {}, \"windows\": {}, "
        "\"batches_per_s\": {:.0f}, \"tokens_per_s\": {:.0f}}}\n",
        n,
        mapped.dataset().num_windows(),
        b,
        b * tok);
  }
  return 0;
}

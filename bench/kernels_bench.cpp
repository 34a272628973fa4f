// The non-matrix kernels of a GPT-2 small training step (issue 25, "fewer
// passes over memory"), each against what LibTorch does in its place,
// measured in the same run on the same threads: AdamW over GPT-2 small's
// 163M parameters (ember::AdamW against torch::optim::AdamW, the same
// update), dropout on the attention weights and the residual stream
// (ember::dropout against torch's, the same draws), the bf16 loss over the
// 50,257 logits (fused_cross_entropy against cross_entropy on the fp32
// copy, which autocast does), the bf16 GELU (ember's, in fp32, against
// at::gelu on bf16). Best of REPEATS; forward and backward where a kernel
// has a backward. Prints a markdown table.
//
//   build/bench/kernels_bench [threads=2] [batch=2] [repeats=5]
// Run it with the heap settings `ember train` uses (bench/kernels_bench.sh).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/dropout.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include <ember/nn/cross_entropy.hpp>
#include <ember/nn/dropout.hpp>
#include <ember/nn/feed_forward.hpp>
#include <ember/nn/precision.hpp>
#include <ember/train/adamw.hpp>

namespace F = torch::nn::functional;

namespace {

int repeats = 5;

double best_seconds(const std::function<void()>& run) {
  run();  // warm-up: the heap, the caches
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    best = std::min(
        best,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count());
  }
  return best;
}

void row(const std::string& what, double ours, double theirs) {
  std::printf(
      "| %s | %.1f | %.1f | %.2fx |\n",
      what.c_str(),
      ours * 1e3,
      theirs * 1e3,
      theirs / ours);
}

// GPT-2 small's parameters (untied head): 163M floats with gradients.
std::vector<torch::Tensor> gpt2_small_parameters() {
  std::vector<std::vector<int64_t>> shapes = {
      {50257, 768}, {1024, 768}, {50257, 768}, {768}, {768}};
  for (int b = 0; b < 12; ++b) {
    for (int k = 0; k < 4; ++k) shapes.push_back({768, 768});
    shapes.push_back({768});  // out_proj bias
    shapes.push_back({3072, 768});
    shapes.push_back({3072});
    shapes.push_back({768, 3072});
    for (int k = 0; k < 5; ++k) shapes.push_back({768});  // norms, bias
  }
  std::vector<torch::Tensor> out;
  for (const auto& s : shapes) {
    auto p = torch::randn(s).mul_(0.02).requires_grad_(true);
    p.mutable_grad() = torch::randn(s).mul_(1e-3);
    out.push_back(p);
  }
  return out;
}

void adamw_rows() {
  auto ours = gpt2_small_parameters();
  auto theirs = gpt2_small_parameters();
  ember::NamedTensors named;
  for (size_t i = 0; i < ours.size(); ++i)
    named.emplace_back(std::to_string(i), ours[i]);
  ember::AdamW a(named, {4e-4, 0.1});
  torch::optim::AdamW b(
      theirs, torch::optim::AdamWOptions(4e-4).weight_decay(0.1));
  int64_t n = 0;
  for (const auto& p : ours) n += p.numel();
  row("AdamW step, GPT-2 small (" + std::to_string(n / 1000000) +
          "M parameters)",
      best_seconds([&] { a.step(); }),
      best_seconds([&] { b.step(); }));
}

void dropout_rows(int64_t batch) {
  const std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"attention weights (B, 12, 256, 256)", {batch, 12, 256, 256}},
      {"residual stream (B, 256, 768)", {batch, 256, 768}}};
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    for (const auto& [name, shape] : shapes) {
      const auto x = torch::randn(shape).to(dtype).requires_grad_(true);
      const auto g = torch::randn(shape).to(dtype);
      const auto ours = [&] { ember::dropout(x, 0.1, true).backward(g); };
      const auto theirs = [&] {
        F::dropout(x, F::DropoutFuncOptions().p(0.1).training(true))
            .backward(g);
      };
      row(std::string("dropout 0.1, ") +
              (dtype == torch::kFloat ? "fp32 " : "bf16 ") + name,
          best_seconds(ours),
          best_seconds(theirs));
    }
  }
}

void loss_rows(int64_t batch) {
  const int64_t rows = batch * 256;
  const auto logits =
      torch::randn({rows, 50257}).to(torch::kBFloat16).requires_grad_(true);
  const auto targets = torch::randint(0, 50257, {rows}, torch::kLong);
  const auto ours = [&] {
    ember::fused_cross_entropy(logits, targets).backward();
  };
  const auto theirs = [&] {
    F::cross_entropy(logits.to(torch::kFloat), targets).backward();
  };
  row("bf16 loss over (" + std::to_string(rows) + ", 50257) logits",
      best_seconds(ours),
      best_seconds(theirs));
}

void gelu_rows(int64_t batch) {
  const auto x = torch::randn({batch, 256, 3072})
                     .to(torch::kBFloat16)
                     .requires_grad_(true);
  const auto g = torch::randn({batch, 256, 3072}).to(torch::kBFloat16);
  row("bf16 GELU (B, 256, 3072), 12 blocks",
      12 * best_seconds([&] { ember::gelu_tanh(x).backward(g); }),
      12 * best_seconds([&] {
        F::gelu(x, F::GELUFuncOptions().approximate("tanh")).backward(g);
      }));
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 2;
  repeats = argc > 3 ? std::atoi(argv[3]) : 5;
  at::set_num_threads(threads);
  torch::manual_seed(0);
  std::printf(
      "threads %d, batch %lld, context 256, best of %d; CPU bf16: %s; "
      "ember's dropout draws its own mask: %s\n\n",
      threads,
      static_cast<long long>(batch),
      repeats,
      ember::cpu_bf16_flags().c_str(),
      ember::draws_own_mask(torch::zeros({1})) ? "yes" : "no (ATen's)");
  std::printf(
      "| kernel (forward and backward) | ember (ms) | LibTorch (ms) | "
      "ratio |\n|---|---|---|---|\n");
  adamw_rows();
  dropout_rows(batch);
  loss_rows(batch);
  gelu_rows(batch);
  return 0;
}

#include "ember/generate/generate.hpp"

#include <filesystem>
#include <limits>

#include <ATen/ops/argmax.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/full_like.h>
#include <ATen/ops/multinomial.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/topk.h>
#include <ATen/ops/where.h>
#include <c10/core/GradMode.h>
#include <c10/util/Exception.h>
#include <fmt/core.h>
#include <torch/utils.h>

#include <ember/checkpoint/checkpoint.hpp>
#include <ember/util/error.hpp>

namespace ember {

torch::Tensor generate(
    GPTModel& model,
    torch::Tensor idx,
    int64_t max_new_tokens,
    int64_t context_size,
    double temperature,
    int64_t top_k,
    std::optional<int64_t> eos_id) {
  TORCH_CHECK(
      idx.dim() == 2,
      "generate: idx must be (B, T) (got rank ",
      idx.dim(),
      ")");
  TORCH_CHECK_VALUE(
      temperature >= 0,
      "generate: temperature must be >= 0 (got ",
      temperature,
      ")");
  TORCH_CHECK_VALUE(
      top_k >= 0, "generate: top_k must be >= 0 (got ", top_k, ")");
  c10::NoGradGuard no_grad;
  model->eval();
  for (int64_t i = 0; i < max_new_tokens; ++i) {
    const int64_t t = idx.size(1);
    // (B, T) -> last context_size columns
    auto idx_cond =
        t > context_size ? idx.narrow(1, t - context_size, context_size) : idx;
    // (B, T, V) -> (B, V)
    auto logits = model(idx_cond).select(1, -1);
    if (top_k > 0) {
      const int64_t k = std::min<int64_t>(top_k, logits.size(-1));
      auto top = std::get<0>(at::topk(logits, k));
      auto min_val = top.narrow(1, k - 1, 1);  // (B, 1)
      logits = at::where(
          logits < min_val,
          at::full_like(logits, -std::numeric_limits<double>::infinity()),
          logits);
    }
    torch::Tensor next;
    if (temperature > 0) {
      auto probs = at::softmax(logits / temperature, -1);
      next = at::multinomial(probs, 1);  // (B, 1)
    } else {
      next = at::argmax(logits, -1, /*keepdim=*/true);  // (B, 1)
    }
    if (eos_id && idx.size(0) == 1 && next.item<int64_t>() == *eos_id) break;
    idx = at::cat({idx, next}, 1);
  }
  return idx;
}

torch::Tensor id_batch(const std::vector<TokenId>& ids) {
  const std::vector<int64_t> wide(ids.begin(), ids.end());
  return at::tensor(wide, at::kLong)
      .view({1, static_cast<int64_t>(ids.size())});
}

std::vector<TokenId> row_ids(const torch::Tensor& row, int64_t from) {
  const auto cpu = row.to(at::kCPU, at::kLong).contiguous();
  const auto* p = cpu.data_ptr<int64_t>();
  return std::vector<TokenId>(p + from, p + cpu.size(0));
}

TrainedModel load_run(const std::string& run_dir) {
  const std::string path =
      (std::filesystem::path(run_dir) / "checkpoint.pt").string();
  Checkpoint ckpt = load_checkpoint(path);
  TrainedModel out;
  out.config = parse_config(ckpt.config_toml, path + " (its config)");
  out.step = ckpt.step;
  out.model = GPTModel(model_options(out.config.model));
  load_model_state(*out.model, ckpt.model, "checkpoint " + path);
  return out;
}

TrainedModel seeded_model(const Config& config) {
  TrainedModel out;
  out.config = config;
  torch::manual_seed(static_cast<uint64_t>(config.train.seed));
  out.model = GPTModel(model_options(config.model));
  return out;
}

}  // namespace ember

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

#include <ember/nn/kv_cache.hpp>
#include <ember/util/error.hpp>

namespace ember {

namespace {

// (B, V) logits of the last position -> (B, 1) next ids, as the book's
// generate: keep the top_k largest (0 = all), then sample from
// softmax(logits / temperature), or argmax when temperature == 0.
torch::Tensor next_ids(
    torch::Tensor logits, double temperature, int64_t top_k) {
  if (top_k > 0) {
    const int64_t k = std::min<int64_t>(top_k, logits.size(-1));
    auto top = std::get<0>(at::topk(logits, k));
    auto min_val = top.narrow(1, k - 1, 1);  // (B, 1)
    logits = at::where(
        logits < min_val,
        at::full_like(logits, -std::numeric_limits<double>::infinity()),
        logits);
  }
  if (temperature > 0) {
    auto probs = at::softmax(logits / temperature, -1);
    return at::multinomial(probs, 1);  // (B, 1)
  }
  return at::argmax(logits, -1, /*keepdim=*/true);  // (B, 1)
}

bool is_eos(const torch::Tensor& next, const std::optional<int64_t>& eos_id) {
  return eos_id && next.size(0) == 1 && next.item<int64_t>() == *eos_id;
}

// The last `window` columns of (B, T) ids (all of them when T <= window).
torch::Tensor crop(const torch::Tensor& idx, int64_t window) {
  const int64_t t = idx.size(1);
  return t > window ? idx.narrow(1, t - window, window) : idx;
}

// The book's loop: the whole (cropped) sequence through the model each step.
torch::Tensor generate_plain(
    GPTModel& model, torch::Tensor idx, const GenerateOptions& o) {
  for (int64_t i = 0; i < o.max_new_tokens; ++i) {
    // (B, T, V) -> (B, V)
    auto logits = model(crop(idx, o.context_size)).select(1, -1);
    auto next = next_ids(logits, o.temperature, o.top_k);
    if (is_eos(next, o.eos_id)) break;
    idx = at::cat({idx, next}, 1);
  }
  return idx;
}

// The same ids through a KV cache: the cropped prompt fills it, then each
// step runs the one new token. Once the window is full, each step refills
// it with the last `window` tokens, which is what the book's cropping feeds
// the model (positions 0..window-1 move with the window, so cached keys
// cannot be kept).
torch::Tensor generate_cached(
    GPTModel& model, torch::Tensor idx, const GenerateOptions& o) {
  const int64_t window =
      std::min(o.context_size, model->options().context_length());
  KVCache cache(model->trf_blocks->size());
  torch::Tensor next;
  for (int64_t i = 0; i < o.max_new_tokens; ++i) {
    torch::Tensor step = next;
    if (i == 0 || cache.pos == window) {
      cache.reset();
      step = crop(idx, window);
    }
    // (B, 1, V) -> (B, V)
    auto logits = model->forward_cached(step, cache).select(1, -1);
    next = next_ids(logits, o.temperature, o.top_k);
    if (is_eos(next, o.eos_id)) break;
    idx = at::cat({idx, next}, 1);
  }
  return idx;
}

}  // namespace

torch::Tensor generate(
    GPTModel& model, torch::Tensor idx, const GenerateOptions& options) {
  TORCH_CHECK(
      idx.dim() == 2,
      "generate: idx must be (B, T) (got rank ",
      idx.dim(),
      ")");
  TORCH_CHECK_VALUE(
      options.temperature >= 0,
      "generate: temperature must be >= 0 (got ",
      options.temperature,
      ")");
  TORCH_CHECK_VALUE(
      options.top_k >= 0,
      "generate: top_k must be >= 0 (got ",
      options.top_k,
      ")");
  TORCH_CHECK_VALUE(
      options.context_size >= 1,
      "generate: context_size must be >= 1 (got ",
      options.context_size,
      ")");
  c10::NoGradGuard no_grad;
  model->eval();
  if (options.kv_cache && model->supports_kv_cache() && idx.size(1) > 0)
    return generate_cached(model, std::move(idx), options);
  return generate_plain(model, std::move(idx), options);
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

}  // namespace ember

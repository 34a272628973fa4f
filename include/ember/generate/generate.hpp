// Text generation with a GPTModel: the book's `generate` (ch05
// gpt_generate.py: context cropping, top-k filter, temperature sampling,
// greedy argmax at temperature 0, optional end-of-text stop). A run's model
// comes from run/run_model.hpp. Dimensions: B batch, T sequence, V vocab.
// With a KV cache by default (GenerateOptions::kv_cache).
// Leaves out: beam search.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/types.h>  // torch::Tensor

#include <ember/nn/gpt_model.hpp>
#include <ember/text/tokenizer.hpp>

namespace ember {

/// How generate() continues a sequence (the book's generate arguments).
struct GenerateOptions {
  int64_t max_new_tokens = 0;
  /// The longest tail of the sequence the model sees (the book's
  /// context_size): usually the model's context_length.
  int64_t context_size = 1;
  /// 0: greedy (argmax); > 0: sample from softmax(logits / temperature).
  double temperature = 0.0;
  /// Keep only the top_k largest logits before sampling; 0 keeps all.
  int64_t top_k = 0;
  /// With B = 1, stop before appending this id.
  std::optional<int64_t> eos_id;
  /// Cache keys and values across steps (nn/kv_cache.hpp): the same ids,
  /// faster. Ignored for a model whose parts do not support it.
  bool kv_cache = true;
};

/// (B, T) int64 ids -> (B, T + n) with n <= max_new_tokens new ids. Runs in
/// eval mode without grad; sampling draws from the global generator, one
/// multinomial draw per step as the book's loop does, so a seed gives the
/// book's ids with or without the cache.
torch::Tensor generate(
    GPTModel& model, torch::Tensor idx, const GenerateOptions& options);

/// Token ids as the (1, T) int64 batch generate() takes.
torch::Tensor id_batch(const std::vector<TokenId>& ids);

/// Row `row` ((T,) int64, any device) from position `from` on, as ids.
std::vector<TokenId> row_ids(const torch::Tensor& row, int64_t from = 0);

}  // namespace ember

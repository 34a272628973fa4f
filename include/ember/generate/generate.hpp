// Text generation with a GPTModel: the book's `generate` (ch05
// gpt_generate.py: context cropping, top-k filter, temperature sampling,
// greedy argmax at temperature 0, optional end-of-text stop), and loading a
// run's model from its checkpoint. Dimensions: B batch, T sequence, V vocab.
// Leaves out: KV caching, beam search.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/types.h>  // torch::Tensor

#include <ember/config/config.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/text/tokenizer.hpp>

namespace ember {

/// (B, T) int64 ids -> (B, T + n) with n <= max_new_tokens new ids. Greedy
/// when temperature == 0; top_k == 0 keeps every logit. With B = 1, stops
/// early when the next id equals eos_id. Runs in eval mode without grad;
/// sampling draws from the global generator.
torch::Tensor generate(
    GPTModel& model,
    torch::Tensor idx,
    int64_t max_new_tokens,
    int64_t context_size,
    double temperature = 0.0,
    int64_t top_k = 0,
    std::optional<int64_t> eos_id = std::nullopt);

/// Token ids as the (1, T) int64 batch generate() takes.
torch::Tensor id_batch(const std::vector<TokenId>& ids);

/// Row `row` ((T,) int64, any device) from position `from` on, as ids.
std::vector<TokenId> row_ids(const torch::Tensor& row, int64_t from = 0);

struct TrainedModel {
  Config config;
  GPTModel model{nullptr};
  int64_t step = 0;
};

/// Builds the model of `run_dir`/checkpoint.pt (its config is taken from the
/// checkpoint) on the CPU and loads its weights. Throws ember::Error when the
/// checkpoint is missing or unreadable.
TrainedModel load_run(const std::string& run_dir);

/// The model `config` describes, built as `ember train` builds it:
/// torch::manual_seed(train.seed), then GPTModel(model_options(model)), on
/// the CPU. Step 0.
TrainedModel seeded_model(const Config& config);

}  // namespace ember

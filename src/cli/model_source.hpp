// Where `forward`, `generate`, `export` and `respond` get their model:
// --run DIR (its checkpoint and config), or a fresh one built exactly as
// `ember train` builds it from --config/--set, optionally with --weights.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <ember/run/run_model.hpp>

namespace ember::cli {

// Where the model comes from: --run, or --config (default
// configs/verdict.toml) with --set overrides.
struct ModelSource {
  std::string run;
  std::string config;
  std::vector<std::string> sets;
  /// Rows of ids (--ids, repeatable).
  std::vector<std::string> ids;
  /// Weight files for the configured model (--weights, at most twice): the
  /// model's, or with adapters (train.lora_rank) a base model's and then
  /// its adapter's (`ember export --lora-only`).
  std::vector<std::string> weights;
  /// --precision: fp32 or bf16 instead of the config's train.precision.
  std::string precision;
};

/// --run, --config, --set, --weights, and (with `precision`) --precision
/// and (with `ids`) --ids: `export` writes weights, so it takes neither.
void add_source_options(
    CLI::App* cmd, ModelSource& s, bool ids = true, bool precision = true);

/// How generate() samples (`generate`, `respond`): --temperature, --top-k,
/// --seed, as the book's generate arguments.
struct SamplingArgs {
  double temperature = 0.0;
  int64_t top_k = 0;
  int64_t seed = 123;
};
void add_sampling_options(CLI::App* cmd, SamplingArgs& s);
/// ConfigError for a negative temperature or top-k.
void check_sampling(const SamplingArgs& s);

/// The model of `s` on the CPU, with the runtime (threads) of its config
/// prepared and its parameters' requires_grad set as its config trains them
/// (run/finetune.hpp). A bad weight file is a ConfigError (exit 2).
TrainedModel load_model(const ModelSource& s);

}  // namespace ember::cli

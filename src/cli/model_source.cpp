#include "model_source.hpp"

#include <chrono>
#include <cstdint>

#include "app.hpp"
#include <fmt/core.h>

#include <ember/checkpoint/weights.hpp>
#include <ember/config/config.hpp>
#include <ember/nn/adapter.hpp>
#include <ember/run/finetune.hpp>
#include <ember/run/runtime.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember::cli {

void add_source_options(
    CLI::App* cmd, ModelSource& s, bool ids, bool precision) {
  cmd->add_option("--run", s.run, "Run folder holding checkpoint.pt");
  cmd->add_option(
      "--config",
      s.config,
      "TOML config of a fresh seeded model (default configs/verdict.toml)");
  cmd->add_option(
         "--set", s.sets, "Override a key: section.key=value (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option(
         "--weights",
         s.weights,
         "Weights for the configured model: the book's .pth (torch.save of a "
         "state_dict), safetensors with the book's keys, or Hugging Face "
         "GPT-2's model.safetensors; with train.lora_rank, a second "
         "--weights is the adapter file (export --lora-only) over the first")
      ->allow_extra_args(false);
  if (precision) {
    cmd->add_option(
        "--precision",
        s.precision,
        "fp32 or bf16 (autocast: bf16 matrix products, fp32 logits); default "
        "the config's train.precision");
  }
  if (!ids) return;
  cmd->add_option(
         "--ids",
         s.ids,
         "Token ids of one row, e.g. \"6109 3626 6100 345\" (repeatable)")
      ->allow_extra_args(false);
}

namespace {

// load_weights() and a line on stderr saying what was loaded and how fast.
void load_weights_reported(
    GPTModelImpl& model, const std::string& path, const WeightFilter& filter) {
  const auto start = std::chrono::steady_clock::now();
  load_user_weights(model, path, filter, "--weights");
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  int64_t n = 0;
  for (const auto& p : model.named_parameters()) {
    if (!filter.fills || filter.fills(p.key())) n += p.value().numel();
  }
  fmt::print(
      stderr, "weights: {} ({} parameters) loaded in {:.2f} s\n", path, n, s);
}

// --weights: the whole model; or, for a model with adapters, the base
// model's (all but the adapters, which keep their initial values: B = 0
// leaves the base model's outputs) and then the adapters'.
void load_weight_files(GPTModelImpl& model, const std::vector<std::string>& w) {
  if (w.size() > 2) {
    throw ConfigError(fmt::format(
        "--weights: given {} times, expected once, or twice (a base model "
        "and its adapter)",
        w.size()));
  }
  if (w.empty()) return;
  if (w.size() == 2) require_adapters(model, "--weights");
  if (!has_adapters(model)) {
    load_weights_reported(model, w[0], {});
    return;
  }
  load_weights_reported(model, w[0], base_entries(model));
  if (w.size() == 2) load_weights_reported(model, w[1], adapter_entries(model));
}

}  // namespace

// Uses train.threads of the model's config (0 = all cores), as training
// does: Debian's LibTorch would otherwise run one thread.
TrainedModel load_model(const ModelSource& s) {
  if (!s.precision.empty()) parse_precision(s.precision, "--precision");
  if (!s.run.empty()) {
    if (!s.config.empty() || !s.sets.empty()) {
      throw ConfigError(
          "--run: the run's own config describes its model; drop --config "
          "and --set");
    }
    if (!s.weights.empty())
      throw ConfigError("--weights: give either --run or --weights, not both");
    TrainedModel trained = load_run(s.run);
    if (!s.precision.empty())
      trained.config.train.runtime.precision = s.precision;
    const Runtime runtime = prepare_runtime(trained.config);
    set_trainable(*trained.model, trainable_part(trained.config));
    trained.model->set_precision(runtime.precision);
    return trained;
  }
  const std::string path = s.config.empty() ? default_config_path() : s.config;
  // The data file is not needed: parse without looking it up.
  Config config = parse_config(read_file(path), path, s.sets);
  if (!s.precision.empty()) config.train.runtime.precision = s.precision;
  const Runtime runtime = prepare_runtime(config);
  TrainedModel trained = seeded_model(config);
  load_weight_files(*trained.model, s.weights);
  trained.model->set_precision(runtime.precision);
  return trained;
}

void add_sampling_options(CLI::App* cmd, SamplingArgs& s) {
  cmd->add_option(
      "--temperature", s.temperature, "0 = greedy (default); > 0 samples");
  cmd->add_option(
      "--top-k", s.top_k, "Keep the k largest logits; 0 = all (default)");
  cmd->add_option("--seed", s.seed, "Seed for sampling (default 123)");
}

void check_sampling(const SamplingArgs& s) {
  if (s.temperature < 0) {
    throw ConfigError(fmt::format(
        "--temperature: out of range (got {}, expected >= 0)", s.temperature));
  }
  if (s.top_k < 0) {
    throw ConfigError(fmt::format(
        "--top-k: out of range (got {}, expected >= 0; 0 = off)", s.top_k));
  }
}

}  // namespace ember::cli

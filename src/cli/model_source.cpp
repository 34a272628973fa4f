#include "model_source.hpp"

#include <chrono>
#include <cstdint>

#include "app.hpp"
#include <fmt/core.h>

#include <ember/checkpoint/weights.hpp>
#include <ember/config/config.hpp>
#include <ember/run/runtime.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember::cli {

void add_source_options(CLI::App* cmd, ModelSource& s, bool ids) {
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
      "GPT-2's model.safetensors");
  if (!ids) return;
  cmd->add_option(
         "--ids",
         s.ids,
         "Token ids of one row, e.g. \"6109 3626 6100 345\" (repeatable)")
      ->allow_extra_args(false);
}

namespace {

// load_weights() and a line on stderr saying what was loaded and how fast.
void load_weights_reported(torch::nn::Module& model, const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  try {
    load_weights(model, path);
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(e.what());  // a bad input file: exit status 2
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  fmt::print(
      stderr, "weights: {} ({} parameters) loaded in {:.2f} s\n", path, n, s);
}

}  // namespace

// Uses train.threads of the model's config (0 = all cores), as training
// does: Debian's LibTorch would otherwise run one thread.
TrainedModel load_model(const ModelSource& s) {
  if (!s.run.empty()) {
    if (!s.config.empty() || !s.sets.empty()) {
      throw ConfigError(
          "--run: the run's own config describes its model; drop --config "
          "and --set");
    }
    if (!s.weights.empty())
      throw ConfigError("--weights: give either --run or --weights, not both");
    TrainedModel trained = load_run(s.run);
    prepare_runtime(trained.config);
    return trained;
  }
  const std::string path = s.config.empty() ? default_config_path() : s.config;
  // The data file is not needed: parse without looking it up.
  const Config config = parse_config(read_file(path), path, s.sets);
  prepare_runtime(config);
  TrainedModel trained = seeded_model(config);
  if (!s.weights.empty()) load_weights_reported(*trained.model, s.weights);
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

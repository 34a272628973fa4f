#include "ember/run/run_model.hpp"

#include <torch/utils.h>

#include <ember/run/finetune.hpp>
#include <ember/run/run_folder.hpp>

namespace ember {

Config checkpoint_config(const Checkpoint& ckpt, const std::string& path) {
  return parse_config(ckpt.config_toml, path + " (its config)");
}

GPTModel seeded_gpt(const Config& config) {
  torch::manual_seed(static_cast<uint64_t>(config.train.seed));
  return run_gpt(config);
}

GPTModel run_gpt(
    const Config& config, const std::function<void(GPTModel&)>& init) {
  const auto seed = static_cast<uint64_t>(config.train.seed);
  const bool text = config.data.format == "text";
  if (text) torch::manual_seed(seed);
  GPTModel model(model_options(config.model));
  if (init) init(model);
  prepare_finetune(model, config);
  if (config.data.format == "instruction") torch::manual_seed(seed);
  return model;
}

GPTModel built_gpt(const Config& config) {
  GPTModel model(model_options(config.model));
  attach_adapters(*model, config.train.finetune);
  return model;
}

TrainedModel load_run(const std::string& run_dir) {
  const std::string path = RunFolder(run_dir).checkpoint();
  const Checkpoint ckpt = load_checkpoint(path);
  TrainedModel out;
  out.config = checkpoint_config(ckpt, path);
  out.step = ckpt.step;
  out.model = built_gpt(out.config);
  load_model_state(*out.model, ckpt.model, "checkpoint " + path);
  return out;
}

TrainedModel seeded_model(const Config& config) {
  TrainedModel out;
  out.config = config;
  out.model = seeded_gpt(config);
  return out;
}

}  // namespace ember

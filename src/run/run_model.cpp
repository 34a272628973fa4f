#include "ember/run/run_model.hpp"

#include <torch/utils.h>

#include <ember/run/run_folder.hpp>

namespace ember {

Config checkpoint_config(const Checkpoint& ckpt, const std::string& path) {
  return parse_config(ckpt.config_toml, path + " (its config)");
}

GPTModel seeded_gpt(const Config& config) {
  torch::manual_seed(static_cast<uint64_t>(config.train.seed));
  return GPTModel(model_options(config.model));
}

GPTModel run_gpt(
    const Config& config, const std::function<void(GPTModel&)>& init) {
  const bool text = config.data.format == "text";
  GPTModel model =
      text ? seeded_gpt(config) : GPTModel(model_options(config.model));
  if (init) init(model);
  if (!text) torch::manual_seed(static_cast<uint64_t>(config.train.seed));
  return model;
}

TrainedModel load_run(const std::string& run_dir) {
  const std::string path = RunFolder(run_dir).checkpoint();
  const Checkpoint ckpt = load_checkpoint(path);
  TrainedModel out;
  out.config = checkpoint_config(ckpt, path);
  out.step = ckpt.step;
  out.model = GPTModel(model_options(out.config.model));
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

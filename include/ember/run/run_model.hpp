// The model of a run: built from a config as `ember train` builds it (the
// book's torch.manual_seed(123); model = GPTModel(GPT_CONFIG_124M)), or
// restored from a run folder's checkpoint (its config is taken from the
// checkpoint). Every command that needs a model gets it here. Leaves out:
// devices (models come back on the CPU).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <ember/checkpoint/checkpoint.hpp>
#include <ember/config/config.hpp>
#include <ember/nn/gpt_model.hpp>

namespace ember {

/// The config a checkpoint was made with (its to_toml() text, parsed back);
/// `path` names the file in messages: "<path> (its config): ...".
Config checkpoint_config(const Checkpoint& ckpt, const std::string& path);

/// torch::manual_seed(config.train.seed), then run_gpt(config): the seeded
/// initialisation of a run (the model `ember train` starts from without
/// --init-from), the same weights every time, on the CPU.
GPTModel seeded_gpt(const Config& config);

/// The model of a training run in its data format's random order, called
/// right after the run's data was prepared (which began with
/// manual_seed(train.seed)); `init` (the --init-from weights) runs on the
/// new model and draws nothing; then prepare_finetune (run/finetune.hpp:
/// the classifier head, adapters, trainable parameters):
///   "text" (the book's ch05): manual_seed(seed), the model, init;
///   "instruction" (ch07 main()): the model, init, manual_seed(seed);
///   "classification" (ch06): the model, init, freeze, manual_seed(seed),
///   the head, manual_seed(seed).
/// Either way the next draw is the training's first (the first epoch's
/// loader pass).
GPTModel run_gpt(
    const Config& config, const std::function<void(GPTModel&)>& init = {});

/// The model `config` describes with its adapters in place (their values
/// arbitrary): a shape to load a checkpoint into. Draws from the generator.
GPTModel built_gpt(const Config& config);

struct TrainedModel {
  Config config;
  GPTModel model{nullptr};
  int64_t step = 0;
};

/// Builds the model of `run_dir`/checkpoint.pt (its config is taken from the
/// checkpoint) on the CPU and loads its weights. Throws ember::Error when the
/// checkpoint is missing or unreadable.
TrainedModel load_run(const std::string& run_dir);

/// The model `config` describes, as seeded_gpt() builds it. Step 0.
TrainedModel seeded_model(const Config& config);

}  // namespace ember

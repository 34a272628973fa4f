// `ember train` and `ember generate`: thin shells over trainer.hpp and
// generate.hpp. train: load and validate the config (--config, --set,
// --resume), print it, install SIGINT/SIGTERM handlers that ask the loop to
// checkpoint and stop (exit 130), and train.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "app.hpp"
#include <ATen/ops/empty.h>
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <torch/utils.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <ember/config/config.hpp>
#include <ember/dist/process_group.hpp>
#include <ember/generate/generate.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/train/trainer.hpp>
#include <ember/util/build_config.hpp>
#include <ember/util/error.hpp>

namespace ember::cli {
namespace {

std::atomic<int> g_stop{0};

extern "C" void on_stop_signal(int signum) {
  g_stop.store(signum);
}

// Every step allocates and frees the same few (B*T, V) buffers (~100 MB
// each at the default config). glibc serves blocks over 32 MB with mmap and
// unmaps them on free, so each step would fault in and zero them again.
// Keeping them in the heap lets the allocator reuse them (see
// bench/README.md, "Training", for the measured effect).
void keep_large_blocks_in_heap() {
#ifdef __GLIBC__
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::string default_config_path() {
  const std::string local = "configs/verdict.toml";
  if (std::filesystem::exists(local)) return local;
  const auto beside_data =
      std::filesystem::path(build::kDefaultDataDir).parent_path() / local;
  if (std::filesystem::exists(beside_data)) return beside_data.string();
  return local;
}

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string resume;
};

void run_train(const TrainArgs& args) {
  std::string config_path = args.config;
  if (config_path.empty()) {
    config_path =
        args.resume.empty()
            ? default_config_path()
            : (std::filesystem::path(args.resume) / "config.toml").string();
  }
  Config config = load_config(config_path, args.sets);
  if (!args.resume.empty()) config.run.dir = args.resume;
  // Checked before any work: both need LibTorch, so config.cpp cannot.
  check_module_names(model_options(config.model));
  const auto device = resolve_device(config.train.device);
  // Under torchrun only rank 0 prints (as it alone writes logs and files).
  if (dist::LaunchEnv::from_env().rank == 0) {
    fmt::print(
        "# ember train: resolved config ({}; device {})\n{}\n",
        config_path,
        device.str(),
        to_toml(config));
    std::fflush(stdout);
  }
  install_stop_handlers();
  if (std::getenv("EMBER_NO_HEAP_TUNING") == nullptr)
    keep_large_blocks_in_heap();
  TrainOptions options;
  options.resume = !args.resume.empty();
  options.stop = &g_stop;
  options.progress = ::isatty(STDOUT_FILENO) != 0;
  const TrainResult result = train(config, options);
  if (result.interrupted) throw ExitStatus{130};
}

struct GenerateArgs {
  std::string run;
  std::string prompt;
  int64_t max_new_tokens = 50;
  double temperature = 0.0;
  int64_t top_k = 0;
  int64_t seed = 123;
};

void run_generate(const GenerateArgs& args) {
  if (args.temperature < 0) {
    throw ConfigError(fmt::format(
        "--temperature: out of range (got {}, expected >= 0)",
        args.temperature));
  }
  if (args.top_k < 0) {
    throw ConfigError(fmt::format(
        "--top-k: out of range (got {}, expected >= 0; 0 = off)", args.top_k));
  }
  if (args.max_new_tokens < 0) {
    throw ConfigError(fmt::format(
        "--max-new-tokens: out of range (got {}, expected >= 0)",
        args.max_new_tokens));
  }
  TrainedModel trained = load_run(args.run);
  const Tokenizer tokenizer = Tokenizer::gpt2();
  const auto ids =
      tokenizer.encode(args.prompt, AllowedSpecial({"<|endoftext|>"}));
  if (ids.empty())
    throw ConfigError("--prompt: empty prompt (expected at least one token)");
  for (const auto id : ids) {
    if (static_cast<int64_t>(id) >= trained.config.model.vocab_size) {
      throw ConfigError(fmt::format(
          "--prompt: token id {} is outside the model's vocabulary (vocab_size "
          "{})",
          id,
          trained.config.model.vocab_size));
    }
  }
  auto idx = at::empty({1, static_cast<int64_t>(ids.size())}, at::kLong);
  for (size_t i = 0; i < ids.size(); ++i)
    idx[0][static_cast<int64_t>(i)] = static_cast<int64_t>(ids[i]);
  torch::manual_seed(static_cast<uint64_t>(args.seed));
  const auto out = generate(
      trained.model,
      idx,
      args.max_new_tokens,
      trained.config.model.context_length,
      args.temperature,
      args.top_k,
      std::nullopt);
  std::vector<TokenId> fresh;
  for (int64_t i = static_cast<int64_t>(ids.size()); i < out.size(1); ++i) {
    fresh.push_back(static_cast<TokenId>(out[0][i].item<int64_t>()));
  }
  fmt::print("{}\n", tokenizer.decode(fresh));
}

}  // namespace

void add_train_commands(CLI::App& app) {
  auto train_args = std::make_shared<TrainArgs>();
  auto* train_cmd = app.add_subcommand("train", torch_command_summary("train"));
  train_cmd->add_option(
      "--config",
      train_args->config,
      "TOML config file (default configs/verdict.toml; with --resume, "
      "RUN_DIR/config.toml)");
  train_cmd
      ->add_option(
          "--set",
          train_args->sets,
          "Override a key: section.key=value (repeatable)")
      ->allow_extra_args(false);
  train_cmd->add_option(
      "--resume",
      train_args->resume,
      "Continue the run in RUN_DIR from its checkpoint");
  train_cmd->callback([train_args] { run_train(*train_args); });

  auto gen_args = std::make_shared<GenerateArgs>();
  auto* gen_cmd =
      app.add_subcommand("generate", torch_command_summary("generate"));
  gen_cmd
      ->add_option("--run", gen_args->run, "Run folder holding checkpoint.pt")
      ->required();
  gen_cmd->add_option("--prompt", gen_args->prompt, "Text to continue")
      ->required();
  gen_cmd->add_option(
      "--max-new-tokens",
      gen_args->max_new_tokens,
      "Tokens to generate (default 50)");
  gen_cmd->add_option(
      "--temperature",
      gen_args->temperature,
      "0 = greedy (default); > 0 samples");
  gen_cmd->add_option(
      "--top-k",
      gen_args->top_k,
      "Keep the k largest logits; 0 = all (default)");
  gen_cmd->add_option(
      "--seed", gen_args->seed, "Seed for sampling (default 123)");
  gen_cmd->callback([gen_args] { run_generate(*gen_args); });
}

}  // namespace ember::cli

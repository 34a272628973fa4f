// `ember train`: a thin shell over trainer.hpp. Load and validate the config
// (--config, --set,
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
#include <ember/nn/gpt_model.hpp>
#include <ember/train/trainer.hpp>
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

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string resume;
  std::vector<std::string> init_from;
};

void run_train(const TrainArgs& args) {
  std::string config_path = args.config;
  if (config_path.empty()) {
    config_path =
        args.resume.empty()
            ? default_config_path()
            : (std::filesystem::path(args.resume) / "config.toml").string();
  }
  if (args.init_from.size() > 2) {
    throw ConfigError(fmt::format(
        "--init-from: given {} times, expected once, or twice (a base model "
        "and its adapter)",
        args.init_from.size()));
  }
  if (!args.resume.empty() && !args.init_from.empty()) {
    throw ConfigError(
        "--init-from: a resumed run continues from its checkpoint; give "
        "either --resume or --init-from");
  }
  Config config = load_config(config_path, args.sets);
  if (!args.resume.empty()) config.run.dir = args.resume;
  // Checked before any work: both need LibTorch, so config.cpp cannot.
  const Runtime runtime = prepare_runtime(config);
  // Under torchrun only rank 0 prints (as it alone writes logs and files).
  if (dist::LaunchEnv::from_env().rank == 0) {
    fmt::print(
        "# ember train: resolved config ({}; device {}, precision {}, "
        "attention {})\n{}\n",
        config_path,
        runtime.device.str(),
        precision_label(runtime),
        config.model.attention,
        to_toml(config));
    std::fflush(stdout);
  }
  install_stop_handlers();
  if (std::getenv("EMBER_NO_HEAP_TUNING") == nullptr)
    keep_large_blocks_in_heap();
  TrainOptions options;
  options.resume = !args.resume.empty();
  if (!args.init_from.empty()) options.init_from = args.init_from[0];
  if (args.init_from.size() == 2) options.init_adapter = args.init_from[1];
  options.stop = &g_stop;
  options.progress = ::isatty(STDOUT_FILENO) != 0;
  options.runtime = runtime;
  const TrainResult result = train(config, options);
  if (result.interrupted) throw ExitStatus{130};
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
  train_cmd
      ->add_option(
          "--init-from",
          train_args->init_from,
          "Start from these weights (the book's .pth, safetensors, or Hugging "
          "Face GPT-2's model.safetensors) for the configured model; given "
          "twice with train.lora_rank, the second is the adapter file (export "
          "--lora-only) over the first")
      ->allow_extra_args(false);
  train_cmd->callback([train_args] { run_train(*train_args); });
}

}  // namespace ember::cli

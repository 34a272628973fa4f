// The training loop: the book's train_model_simple (ch05 gpt_train.py), or
// its appendix-D train_model (warmup, cosine decay, gradient clipping) with
// gradient accumulation, with the exact sequence of random draws of its
// PyTorch program, so a run matches tests/reference/train_reference.py loss
// for loss; plus what a real front end needs: metrics.jsonl, an SVG loss
// plot, atomic checkpoints (at optimizer-step boundaries), resume, graceful
// stop on a signal and a stop on a non-finite loss.
// Mixed precision: train.precision (nn/precision.hpp), set on the model.
// Leaves out: schedules other than the book's, fp16 with loss scaling.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <ember/config/config.hpp>
#include <ember/run/runtime.hpp>
#include <ember/train/metrics.hpp>

namespace ember {

struct TrainOptions {
  /// Continue from run.dir/checkpoint.pt instead of starting over.
  bool resume = false;
  /// Start from the weights in this file (checkpoint/weights.hpp: the
  /// book's .pth, safetensors, Hugging Face GPT-2) instead of the seeded
  /// initialisation; the seed still drives dropout and shuffling.
  std::string init_from;
  /// With adapters (train.lora_rank): their starting values from this file
  /// (`ember export --lora-only`), loaded over init_from's base model once
  /// the adapters exist. Empty: the adapters' own initialisation (B = 0).
  std::string init_adapter;
  /// Set (to a signal number) by the driver's SIGINT/SIGTERM handler: the
  /// loop finishes the current step, saves a checkpoint and returns.
  const std::atomic<int>* stop = nullptr;
  /// Log lines go here; a progress bar too when `progress` is true.
  std::FILE* log = stdout;
  bool progress = false;
  /// The config's device and threads when the caller has prepared them
  /// (prepare_runtime); train() prepares them otherwise.
  std::optional<Runtime> runtime;
};

struct TrainResult {
  bool interrupted = false;
  int64_t step = 0;
  std::vector<EvalRecord> evals;  ///< the whole run's, resumed ones included
};

/// Trains per `config` (already validated). Writes run.dir/config.toml,
/// metrics.jsonl, loss.svg and checkpoint.pt, holding run.dir's lock
/// (run_lock.hpp) from before the first write to the end. Throws ConfigError
/// on a data set that cannot fill a batch or ids >= vocab_size; ember::Error
/// on I/O, a run.dir in use by another run ("run.dir runs/x: in use by
/// another ember run (pid 1234); hint: ..."), a corrupt or mismatched
/// checkpoint, or a non-finite loss ("step 12: training loss is nan;
/// stopped, the last good checkpoint (step 10) is kept in
/// runs/x/checkpoint.pt"). A thin wrapper over the trainer's phases
/// (trainer.cpp, class Trainer).
TrainResult train(const Config& config, const TrainOptions& options = {});

/// Keys that may differ between a checkpoint's config and the config of the
/// run resuming it (how long to run, where, how often to save).
const std::vector<std::string>& resumable_keys();

}  // namespace ember

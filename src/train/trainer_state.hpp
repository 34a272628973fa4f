// The training loop's class, private to src/train/: one member function per
// phase, defined in trainer.cpp (set-up, the loop, evaluation, saving, the
// end) and data_parallel.cpp (the torchrun step: each rank's share and
// loss, over dist::DataParallel). Its members name the optimizer, the loaders
// and the process group, which the public header (train/trainer.hpp) does
// not include.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <c10/core/DeviceGuard.h>

#include <ember/checkpoint/checkpoint.hpp>
#include <ember/data/loader.hpp>
#include <ember/data/run_data.hpp>
#include <ember/dist/data_parallel.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/run/run_folder.hpp>
#include <ember/run/run_lock.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/train/adamw.hpp>
#include <ember/train/evaluate.hpp>
#include <ember/train/lr_schedule.hpp>
#include <ember/train/progress.hpp>
#include <ember/train/trainer.hpp>
#include <ember/util/error.hpp>

namespace ember::detail {

// One run of `ember train`: the phases of train(), in the order run() calls
// them. Only rank 0 (the lead) logs and writes run.dir.
class Trainer {
 public:
  using Clock = std::chrono::steady_clock;

  Trainer(const Config& cfg, const TrainOptions& opt);
  TrainResult run();

 private:
  // --- set-up, before any work (trainer.cpp) --------------------------------
  void join_group();
  void check_resume();
  // --- data, model, run folder, state --------------------------------------
  void prepare_sample_prompt();
  void prepare_data();
  void prepare_schedule();
  void build_model();
  void init_weights(GPTModel& model);
  void init_adapter();
  void claim_run_dir();
  void restore();
  void prepare_prefix_cache();
  void log_prefix_cache() const;
  // --- the loop --------------------------------------------------------------
  TrainResult train_loop();
  std::vector<Batch> next_micro_batches(Loader::Pass& pass) const;
  void train_step(const std::vector<Batch>& micro, const Loader::Pass& pass);
  void local_step(const std::vector<Batch>& micro);
  void clip_gradients();
  void evaluate();
  void end_epoch();
  void epoch_accuracy();
  void final_accuracy();
  void print_sample();
  void save();
  void write_outputs() const;
  // --- the torchrun step (data_parallel.cpp) --------------------------------
  void prepare_reducer();
  void distributed_step(const std::vector<Batch>& micro);
  dist::DataParallel::Part rank_loss(const Batch& batch, size_t n);
  void log_distributed_stats() const;
  // --- the end ---------------------------------------------------------------
  TrainResult interrupted();
  TrainResult finish();
  // --- helpers ---------------------------------------------------------------
  bool max_steps_reached() const {
    return cfg_.train.schedule.max_steps > 0 &&
           step_ >= cfg_.train.schedule.max_steps;
  }
  bool stop_requested() const;
  bool classifier() const {
    return cfg_.model.head == "classifier";
  }
  // Whether this step measures its gradient norm: it clips, or the
  // evaluation after it records the norm.
  bool norm_due() const {
    return schedule_->clips(step_) || step_ % cfg_.train.eval.eval_freq == 0;
  }
  double session_s() const {
    return std::chrono::duration<double>(Clock::now() - t0_).count();
  }
  BatchShare share() const {
    return BatchShare{rank_, world_, cfg_.data.batch_size};
  }
  Error non_finite(const char* what, double v) const;

  const Config& cfg_;
  const TrainOptions& opt_;
  Runtime runtime_;
  const std::string config_toml_;  // to_toml(cfg_): config.toml, checkpoints
  std::unique_ptr<dist::ProcessGroup> group_;
  // The training device is the current one for this thread (join_group).
  c10::OptionalDeviceGuard device_guard_;
  int rank_ = 0;
  int world_ = 1;
  bool lead_ = true;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> null_log_{
      nullptr, &std::fclose};
  std::FILE* log_ = nullptr;
  RunFolder folder_;
  std::string samples_;  // samples.txt: earlier sessions' lines, then ours
  std::optional<Tokenizer> tokenizer_;  // set with train.sample_prompt
  std::vector<TokenId> sample_ids_;
  RunLock lock_;  // the lead's, on run.dir, held until the end
  std::optional<Checkpoint> ckpt_;     // the one to resume from
  std::optional<Config> ckpt_config_;  // its config
  std::optional<RunData> data_;
  GPTModel model_{nullptr};
  std::vector<at::Tensor> params_;  // each trained tensor once (tied: once)
  std::unique_ptr<AdamW> optimizer_;
  std::optional<LrSchedule> schedule_;
  // Training state: fresh or from the checkpoint.
  int64_t step_ = 0;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  int64_t sampler_seed_ = -1;
  int64_t tokens_seen_ = 0;
  double elapsed_before_ = 0;
  int64_t saved_step_ = -1;
  std::vector<EvalRecord> evals_;
  std::vector<AccuracyRecord> accuracies_;  // a classifier's, per epoch
  // Distributed runs: gradient all-reduce.
  std::unique_ptr<dist::DataParallel> parallel_;
  at::Tensor tok_table_;  // reduced by rows (set when it can be)
  // This session (train_loop).
  Clock::time_point t0_;
  int64_t tokens_at_start_ = 0;
  int64_t step_at_start_ = 0;
  int64_t total_steps_ = 0;  // optimizer steps of the whole run
  double last_lr_ = 0;       // of the last step, for its evaluation
  double last_grad_norm_ = std::nan("");
  ProgressBar bar_{false, stdout};
  // Under torchrun every rank must stop at the same step: the flag is
  // agreed on in each step's all-reduce (distributed_step).
  bool stop_agreed_ = false;
};

}  // namespace ember::detail

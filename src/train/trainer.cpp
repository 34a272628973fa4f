// Notes (design and speed, measured on the project's 2-core machine):
// - The random draws follow the book's PyTorch program step by step:
//   manual_seed; loaders; manual_seed; model; AdamW (ch05, data.format
//   "text") or manual_seed; loaders; model; manual_seed; AdamW (ch07,
//   "instruction"; run/run_model.hpp run_gpt); then per epoch a train pass
//   (Loader draws like DataLoader); each evaluation begins a fresh train and
//   val pass, which draws too. Nothing else may touch the generator.
// - AdamW is ember::AdamW (one fused pass per tensor); gradients are dropped,
//   not zeroed, between steps. Both leave every value as PyTorch's.
// - The loop is class detail::Trainer (trainer_state.hpp), one member
//   function per phase, called in this order by Trainer::run(): join_group
//   (device, threads, torchrun), check_resume, the run folder's probe,
//   prepare_data, build_model, claim_run_dir (run/run_folder.hpp: lock, move
//   an earlier run aside), restore, prepare_reducer, then train_loop
//   (train_step -> local_step | distributed_step, evaluate, save) and
//   finish. The torchrun step is in data_parallel.cpp, the loss of a loader
//   in evaluate.cpp, the bar in progress.cpp.
#include "ember/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "trainer_state.hpp"
#include <c10/core/GradMode.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/utils.h>

#include <ember/checkpoint/weights.hpp>
#include <ember/generate/generate.hpp>
#include <ember/nn/adapter.hpp>
#include <ember/run/finetune.hpp>
#include <ember/run/rng_state.hpp>
#include <ember/run/run_model.hpp>
#include <ember/train/grad_clip.hpp>
#include <ember/util/io.hpp>
#include <ember/util/memory_budget.hpp>

namespace ember {
namespace {

namespace fs = std::filesystem;

// OpenBLAS (Debian LibTorch's BLAS) takes a 128 MiB buffer on the first
// matrix product and, when that malloc fails, retries forever (seen under
// `ulimit -d`: 100% CPU, no progress, SIGTERM unheard). Refuse to start
// with less room than that, so the run fails with a message instead.
void check_blas_headroom() {
  constexpr uint64_t kNeed = (128ull + 32) << 20;  // the buffer + a margin
  const MemoryBudget budget = available_memory();
  if (budget.bytes >= kNeed) return;
  throw Error(fmt::format(
      "train: only {} of memory is left to this process ({}), less than the "
      "{} that LibTorch's BLAS (OpenBLAS) allocates at its first matrix "
      "product, where it would wait forever; hint: raise the limit",
      format_bytes(budget.bytes),
      budget.limit,
      format_bytes(kNeed)));
}

// Optimizer steps of the whole run: epochs x steps per epoch, or max_steps
// when smaller.
int64_t run_total_steps(const TrainConfig& t, int64_t steps_per_epoch) {
  const int64_t total = t.schedule.epochs * steps_per_epoch;
  return t.schedule.max_steps > 0 ? std::min(total, t.schedule.max_steps)
                                  : total;
}

}  // namespace

namespace detail {

Trainer::Trainer(const Config& cfg, const TrainOptions& opt)
    : cfg_(cfg),
      opt_(opt),
      runtime_(opt.runtime ? *opt.runtime : prepare_runtime(cfg)),
      config_toml_(to_toml(cfg)),
      folder_(cfg.run.dir) {
  check_blas_headroom();
  join_group();
}

TrainResult Trainer::run() {
  check_resume();
  if (lead_) folder_.probe();
  prepare_sample_prompt();
  prepare_data();
  prepare_schedule();
  build_model();
  claim_run_dir();
  restore();
  prepare_prefix_cache();
  prepare_reducer();
  if (lead_) write_file_atomic(folder_.config(), config_toml_);
  write_outputs();
  return train_loop();
}

// Distributed: joined when started by torchrun (WORLD_SIZE set). Each rank
// trains on its share of every global batch of world * data.batch_size
// windows, so N ranks x batch b is the run of one process x batch N*b;
// gradients are averaged with bucketed all-reduce.
void Trainer::join_group() {
  const auto launch = dist::LaunchEnv::from_env();
  if (launch.launched) {  // a 1-rank group too: same code path as N ranks
    const bool pick_gpu =
        runtime_.device.is_cuda() && (cfg_.train.runtime.device == "auto" ||
                                      cfg_.train.runtime.device == "cuda");
    if (pick_gpu) {
      runtime_.device =
          resolve_device(fmt::format("cuda:{}", launch.local_rank));
    }
  }
  // The training device is the current one for this thread, as
  // torch.cuda.set_device() makes it in a PyTorch script: what LibTorch and
  // NCCL create without naming a device (a CUDA context, communicators,
  // streams) lands on this rank's GPU, not on GPU 0 for every rank.
  if (runtime_.device.is_cuda()) device_guard_.reset_device(runtime_.device);
  if (launch.launched) {
    std::string backend = cfg_.train.runtime.backend;
    if (backend == "auto")
      backend = runtime_.device.is_cuda() ? "nccl" : "gloo";
    if (backend == "nccl" && !runtime_.device.is_cuda()) {
      throw ConfigError(
          "train.backend: nccl needs a CUDA device (got device cpu); hint: "
          "use backend = \"gloo\" or \"auto\"");
    }
    group_ = std::make_unique<dist::ProcessGroup>(
        launch,
        backend,
        std::chrono::seconds(cfg_.train.runtime.dist_timeout_s));
    group_->bind_device(runtime_.device);
  }
  rank_ = group_ ? group_->rank() : 0;
  world_ = group_ ? group_->size() : 1;
  lead_ = rank_ == 0;
  if (!lead_) null_log_.reset(std::fopen("/dev/null", "w"));
  log_ = lead_ ? opt_.log : null_log_.get();
  if (!lead_ && log_ == nullptr) log_ = stderr;
  if (group_) {
    fmt::print(
        log_,
        "distributed: {} ranks, backend {}, global batch {} ({} per rank)\n",
        world_,
        group_->backend(),
        cfg_.data.batch_size * world_,
        cfg_.data.batch_size);
  }
}

// A checkpoint to resume from: refuse it before any work. A running run's
// lock file exists: it is locked first, so a running run is never resumed
// beside itself nor its checkpoint read while it moves on; a folder without
// one gets it in claim_run_dir (nothing is created for a refused resume).
void Trainer::check_resume() {
  if (!opt_.resume) return;
  if (lead_) {
    lock_ = RunLock::acquire(folder_.path(), folder_.dir(), RunLock::kExisting);
  }
  ckpt_ = load_checkpoint(folder_.checkpoint());
  ckpt_config_ = checkpoint_config(*ckpt_, folder_.checkpoint());
  std::vector<std::string> diff;
  for (const auto& key : differing_keys(*ckpt_config_, cfg_)) {
    if (std::count(resumable_keys().begin(), resumable_keys().end(), key) ==
        0) {
      diff.push_back(key);
    }
  }
  if (!diff.empty()) {
    throw ConfigError(fmt::format(
        "resume {}: the checkpoint was made with a different config ({} "
        "differ); hint: resume without --config/--set for these keys, or "
        "start a new run.dir",
        cfg_.run.dir,
        fmt::join(diff, ", ")));
  }
}

// Data: text (in memory) or token files (memory-mapped). The seed comes
// first, as in the PyTorch program (create_dataloader_v1 after
// manual_seed); reading and tokenizing draw nothing.
// train.sample_prompt's ids, checked against the vocabulary before any work.
void Trainer::prepare_sample_prompt() {
  if (cfg_.train.eval.sample_prompt.empty()) return;
  tokenizer_.emplace(Tokenizer::gpt2());
  sample_ids_ = tokenizer_->encode(
      cfg_.train.eval.sample_prompt, AllowedSpecial({"<|endoftext|>"}));
  for (const auto id : sample_ids_)
    check_token_id(static_cast<int64_t>(id), cfg_.model, "train.sample_prompt");
}

void Trainer::prepare_data() {
  torch::manual_seed(static_cast<uint64_t>(cfg_.train.seed));
  RunDataOptions options;
  options.vocab_size = cfg_.model.vocab_size;
  options.threads = static_cast<unsigned>(runtime_.threads);
  options.global_batch = cfg_.data.batch_size * world_;
  options.num_classes = cfg_.model.num_classes;
  options.context_length = cfg_.model.context_length;
  data_.emplace(prepare_run_data(cfg_.data, options, log_));
}

// The learning-rate schedule over the run's optimizer steps. A resumed run
// keeps its checkpoint's schedule: a new length that would change the rates
// (cosine, warmup_ratio) is refused before any work.
void Trainer::prepare_schedule() {
  const auto steps_per_epoch =
      (data_->num_batches + cfg_.train.optimizer.grad_accum_steps - 1) /
      cfg_.train.optimizer.grad_accum_steps;
  total_steps_ = run_total_steps(cfg_.train, steps_per_epoch);
  schedule_.emplace(cfg_.train, total_steps_);
  if (!ckpt_ || !schedule_->depends_on_total()) return;
  const int64_t saved_total =
      run_total_steps(ckpt_config_->train, steps_per_epoch);
  if (saved_total == total_steps_) return;
  throw ConfigError(fmt::format(
      "resume {}: the learning-rate schedule ({}) spans the run's optimizer "
      "steps, which train.epochs and train.max_steps change (got {} steps, "
      "expected {} as in the checkpoint); hint: resume with the "
      "checkpoint's train.epochs and train.max_steps, or start a new run.dir",
      cfg_.run.dir,
      cfg_.train.schedule.lr_schedule == "cosine" ? "cosine decay"
                                                  : "warmup_ratio",
      total_steps_,
      saved_total));
}

// --init-from: the file's weights over the seeded ones (the draws made
// building the model stay, so dropout and shuffling match a seeded run). A
// bad file is a usage error, found before the run folder is touched.
// A classifier's head is new (the book replaces out_head after loading):
// the file's out_head entries are left out.
void Trainer::init_weights(GPTModel& model) {
  WeightFilter filter;
  if (classifier()) {
    // The book: a pretrained model's weights, then a new head over them.
    filter.skips = [](const std::string& name) {
      return name.rfind("out_head.", 0) == 0;
    };
    filter.fills = [skips = filter.skips](const std::string& name) {
      return !skips(name);
    };
  }
  load_user_weights(*model, opt_.init_from, filter, "--init-from");
  if (lead_) {
    fmt::print(
        log_,
        "init: weights from {}{}\n",
        opt_.init_from,
        classifier() ? " (all but out_head: the classifier head is new)" : "");
  }
}

// A second --init-from: the adapters' values (export --lora-only), loaded
// once prepare_finetune has put them in place; reading draws nothing.
void Trainer::init_adapter() {
  require_adapters(*model_, "--init-from");
  load_user_weights(
      *model_, opt_.init_adapter, adapter_entries(*model_), "--init-from");
  if (lead_) fmt::print(log_, "init: adapters from {}\n", opt_.init_adapter);
}

void Trainer::build_model() {
  model_ = run_gpt(cfg_, [&](GPTModel& model) {
    if (!opt_.init_from.empty()) init_weights(model);
  });
  if (!opt_.init_adapter.empty()) init_adapter();
  model_->to(runtime_.device);
  model_->set_precision(runtime_.precision);
  // Frozen parameters get no gradient, no optimizer state, no all-reduce.
  NamedTensors params;
  for (const auto& item : model_->named_parameters()) {
    if (item.value().requires_grad())
      params.emplace_back(item.key(), item.value());
  }
  // Tied weights could appear under two names: clip and reduce each once.
  for (const auto& p : model_->parameters()) {
    const bool seen = std::any_of(params_.begin(), params_.end(), [&](auto& u) {
      return u.unsafeGetTensorImpl() == p.unsafeGetTensorImpl();
    });
    if (!seen && p.requires_grad()) params_.push_back(p);
  }
  const auto count = count_parameters(*model_);
  if (count.trainable != count.total || classifier()) {
    fmt::print(
        log_,
        "model: {} parameters, {} trainable ({})\n",
        count.total,
        count.trainable,
        trainable_part(cfg_));
  }
  optimizer_ = std::make_unique<AdamW>(
      params,
      AdamWOptions{cfg_.train.optimizer.lr, cfg_.train.optimizer.weight_decay});
}

// Leading blocks that take no gradient and draw no dropout compute each
// text once (nn/prefix_cache.hpp): the book's chapter 6 trains the last
// block and the head, so every later epoch and accuracy pass reuses the
// other eleven blocks' outputs. After restore(): the weights are final.
void Trainer::prepare_prefix_cache() {
  const int64_t blocks = model_->frozen_prefix();
  if (blocks == 0) return;
  const int64_t mb = cfg_.train.finetune.frozen_cache_mb;
  model_->set_prefix_cache(std::make_shared<PrefixCache>(blocks, mb << 20));
  fmt::print(
      log_,
      "frozen blocks: the first {} compute each text once, kept in up to {} "
      "MB (train.frozen_cache_mb)\n",
      blocks,
      mb);
}

void Trainer::log_prefix_cache() const {
  const auto& cache = model_->prefix_cache();
  if (!cache) return;
  const auto& s = cache->stats();
  fmt::print(
      log_,
      "frozen blocks: {} texts computed, {} reused; {} kept ({})\n",
      s.misses,
      s.hits,
      s.kept,
      format_bytes(static_cast<uint64_t>(s.bytes)));
}

// The lead takes run.dir for this run (RunFolder::claim): a fresh run moves
// an earlier one aside, a resumed one keeps the lock check_resume took.
void Trainer::claim_run_dir() {
  if (!lead_) return;
  lock_ = folder_.claim(std::move(lock_), !ckpt_, log_);
}

// The state of a resumed run: weights, optimizer, position, generators and
// the evaluations so far.
void Trainer::restore() {
  if (!ckpt_) return;
  load_model_state(*model_, ckpt_->model, "resume " + folder_.checkpoint());
  optimizer_->load_state(ckpt_->optimizer);
  step_ = ckpt_->step;
  epoch_ = ckpt_->epoch;
  position_ = ckpt_->position;
  sampler_seed_ = ckpt_->sampler_seed;
  tokens_seen_ = ckpt_->tokens_seen;
  elapsed_before_ = ckpt_->elapsed_s;
  saved_step_ = step_;
  restore_rng_state(*ckpt_, runtime_.device);
  if (fs::exists(folder_.samples())) samples_ = read_file(folder_.samples());
  if (fs::exists(folder_.metrics())) {
    const std::string lines = read_file(folder_.metrics());
    for (const auto& r : parse_metrics(lines)) {
      if (r.step <= step_) evals_.push_back(r);
    }
    for (const auto& r : parse_accuracies(lines)) {
      if (r.step <= step_) accuracies_.push_back(r);
    }
  }
  fmt::print(
      log_,
      "resuming {} at step {} (epoch {}, batch {} of {})\n",
      cfg_.run.dir,
      step_,
      epoch_ + 1,
      position_,
      data_->num_batches);
}

// metrics.jsonl (evaluations, and a classifier's accuracy after each
// epoch, in the order they happened) and the plots.
void Trainer::write_outputs() const {
  if (!lead_) return;
  std::string lines;
  size_t a = 0;
  for (const auto& r : evals_) {
    for (; a < accuracies_.size() && accuracies_[a].step < r.step; ++a)
      lines += accuracy_json(accuracies_[a]) + "\n";
    lines += metrics_json(r) + "\n";
  }
  for (; a < accuracies_.size(); ++a)
    lines += accuracy_json(accuracies_[a]) + "\n";
  write_file_atomic(folder_.metrics(), lines);
  write_file_atomic(folder_.plot(), loss_plot_svg(evals_));
  if (classifier())
    write_file_atomic(folder_.accuracy_plot(), accuracy_plot_svg(accuracies_));
}

TrainResult Trainer::train_loop() {
  t0_ = Clock::now();
  tokens_at_start_ = tokens_seen_;
  step_at_start_ = step_;
  const int64_t num_batches = data_->num_batches;
  bar_ = ProgressBar(opt_.progress && lead_, stdout);
  bool done = max_steps_reached();
  // A checkpoint at the end of a pass (saved before the epoch's end) goes
  // on with the epoch's end, then the next epoch.
  if (position_ >= num_batches && !done) {
    end_epoch();
    ++epoch_;
    position_ = 0;
    sampler_seed_ = -1;
  }
  model_->train();
  while (!done && epoch_ < cfg_.train.schedule.epochs) {
    if (stop_requested()) break;
    Loader::Pass pass = position_ > 0
                            ? data_->train.resume_pass(
                                  sampler_seed_, static_cast<size_t>(position_))
                            : data_->train.begin_pass();
    for (;;) {
      if (max_steps_reached()) {
        done = true;
        break;
      }
      const auto micro = next_micro_batches(pass);
      if (micro.empty()) break;
      train_step(micro, pass);
      const bool stop = stop_requested();
      if (stop || (cfg_.run.checkpoint_every > 0 &&
                   step_ % cfg_.run.checkpoint_every == 0))
        save();
      if (stop) return interrupted();
    }
    if (done) break;
    end_epoch();
    ++epoch_;
    position_ = 0;
    sampler_seed_ = -1;
  }
  return finish();
}

// The micro-batches of the next optimizer step: train.grad_accum_steps of
// them, fewer at the end of a pass; none when the pass is over. Taking them
// all first draws nothing the step would not (only a pass's first next()
// draws, its sampler seed).
std::vector<Batch> Trainer::next_micro_batches(Loader::Pass& pass) const {
  std::vector<Batch> micro;
  while (static_cast<int64_t>(micro.size()) <
         cfg_.train.optimizer.grad_accum_steps) {
    auto batch = pass.next();
    if (!batch) break;
    micro.push_back(std::move(*batch));
  }
  return micro;
}

// One optimizer step on `micro` at the schedule's rate (the book's
// appendix D sets it before the forward), then the bookkeeping, the
// evaluation every eval_freq steps and the progress bar.
void Trainer::train_step(
    const std::vector<Batch>& micro, const Loader::Pass& pass) {
  optimizer_->zero_grad();
  last_lr_ = schedule_->lr(step_);
  optimizer_->set_lr(last_lr_);
  if (group_) {
    distributed_step(micro);
  } else {
    local_step(micro);
  }
  // The book counts input tokens (ch05, ch07) or examples (ch06).
  for (const auto& b : micro)
    tokens_seen_ += classifier() ? b.inputs.size(0) : b.inputs.numel();
  ++step_;
  position_ = static_cast<int64_t>(pass.position());
  sampler_seed_ = pass.sampler_seed();
  if ((step_ - 1) % cfg_.train.eval.eval_freq == 0) evaluate();
  bar_.draw(step_, total_steps_, step_ - step_at_start_, session_s());
}

// Gradients summed over the micro-batches, each loss divided by their
// number (not divided when there is one, as before accumulation existed).
void Trainer::local_step(const std::vector<Batch>& micro) {
  const auto n = static_cast<double>(micro.size());
  for (const auto& b : micro) {
    auto loss = calc_loss_batch(model_, b, runtime_.device);
    const double loss_value = loss.item<double>();
    if (!std::isfinite(loss_value)) {
      ++step_;
      throw non_finite("training", loss_value);
    }
    if (micro.size() > 1) loss = loss / n;
    loss.backward();
  }
  clip_gradients();
  optimizer_->step();
}

// The gradient norm of the step, clipped when the schedule says so;
// measured only when clipped or when an evaluation records it.
void Trainer::clip_gradients() {
  last_grad_norm_ = std::nan("");
  if (!norm_due()) return;
  const bool clip = schedule_->clips(step_);
  last_grad_norm_ =
      clip_grad_norm(params_, clip ? cfg_.train.optimizer.grad_clip : 0.0);
}

void Trainer::save() {
  if (!lead_) {
    saved_step_ = step_;
    return;
  }
  Checkpoint c;
  c.config_toml = config_toml_;
  c.step = step_;
  c.epoch = epoch_;
  c.position = position_;
  c.sampler_seed = sampler_seed_;
  c.tokens_seen = tokens_seen_;
  c.elapsed_s = elapsed_before_ + session_s();
  c.model = model_state(*model_);
  c.optimizer = optimizer_->state();
  capture_rng_state(c, runtime_.device);
  save_checkpoint(folder_.checkpoint(), c);
  saved_step_ = step_;
}

bool Trainer::stop_requested() const {
  if (group_) return stop_agreed_;
  return opt_.stop != nullptr && opt_.stop->load() != 0;
}

Error Trainer::non_finite(const char* what, double v) const {
  return Error(fmt::format(
      "step {}: {} loss is {}; stopped, {}",
      step_,
      what,
      std::isnan(v) ? std::string("nan") : fmt::format("{}", v),
      saved_step_ >= 0
          ? fmt::format(
                "the last good checkpoint (step {}) is kept in {}",
                saved_step_,
                folder_.checkpoint())
          : std::string("no checkpoint was saved yet; hint: lower train.lr")));
}

// A stop signal ended the loop after a step (its checkpoint is saved).
TrainResult Trainer::interrupted() {
  bar_.clear();
  fmt::print(
      log_,
      "interrupted: checkpoint at step {} saved to {}; continue with: "
      "ember train --resume {}\n",
      step_,
      folder_.checkpoint(),
      cfg_.run.dir);
  TrainResult result;
  result.interrupted = true;
  result.step = step_;
  result.evals = evals_;
  if (group_) group_->shutdown();
  return result;
}

TrainResult Trainer::finish() {
  bar_.clear();
  TrainResult result;
  if (stop_requested()) {
    result.interrupted = true;
    if (step_ != saved_step_) save();
  } else if (step_ != saved_step_) {
    save();
  }
  if (classifier() && !result.interrupted) final_accuracy();
  log_prefix_cache();
  fmt::print(
      log_,
      "done: {} steps, {} {} seen; {:.1f} s, {:.0f} {}/s this session; "
      "outputs in {}\n",
      step_,
      tokens_seen_,
      classifier() ? "examples" : "tokens",
      session_s(),
      static_cast<double>(tokens_seen_ - tokens_at_start_) /
          std::max(session_s(), 1e-9),
      classifier() ? "examples" : "tokens",
      cfg_.run.dir);
  if (group_ && step_ > step_at_start_) log_distributed_stats();
  result.step = step_;
  result.evals = evals_;
  if (group_) group_->shutdown();
  return result;
}

}  // namespace detail

const std::vector<std::string>& resumable_keys() {
  static const std::vector<std::string> kKeys = {
      "train.epochs",
      "train.max_steps",
      "train.device",
      "train.threads",
      "train.tf32",
      "train.backend",
      "train.dist_timeout_s",
      "train.dist_sparse_embedding",
      "train.frozen_cache_mb",
      "train.sample_prompt",
      "train.sample_tokens",
      "run.dir",
      "run.checkpoint_every",
      "data.num_workers"};
  return kKeys;
}

TrainResult train(const Config& cfg, const TrainOptions& opt) {
  detail::Trainer trainer(cfg, opt);
  return trainer.run();
}

}  // namespace ember

// Notes (design and speed, measured on the project's 2-core machine):
// - The random draws follow the PyTorch program step by step:
//   manual_seed; loaders; manual_seed; model; AdamW; per epoch a train pass
//   (Loader draws like DataLoader); each evaluation begins a fresh train and
//   val pass, which draws too. Nothing else may touch the generator.
// - AdamW is ember::AdamW (one fused pass per tensor); gradients are dropped,
//   not zeroed, between steps. Both leave every value as PyTorch's.
// - The loop is class Trainer below, one member function per phase, called
//   in this order by Trainer::run(): join_group (device, threads, torchrun),
//   check_resume, probe_run_dir, prepare_data, build_model, claim_run_dir
//   (lock, move an earlier run aside), restore, prepare_reducer, then
//   train_loop (train_step -> local_step | distributed_step, evaluate, save)
//   and finish. It lives in this file: its members name the optimizer, the
//   loaders and the process group, which the header does not include.
#include "ember/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <typeinfo>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/ops/cat.h>
#include <ATen/ops/empty.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/GradMode.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <unistd.h>

#include <ember/checkpoint/checkpoint.hpp>
#include <ember/checkpoint/weights.hpp>
#include <ember/data/loader.hpp>
#include <ember/data/run_data.hpp>
#include <ember/dist/process_group.hpp>
#include <ember/generate/generate.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/train/adamw.hpp>
#include <ember/train/grad_clip.hpp>
#include <ember/train/lr_schedule.hpp>
#include <ember/train/run_lock.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>
#include <ember/util/memory_budget.hpp>

namespace ember {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool cuda_compiled() {
  // Without the CUDA library LibTorch answers with the stub interface.
  const auto& hooks = at::detail::getCUDAHooks();
  return typeid(hooks) != typeid(at::CUDAHooksInterface);
}

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

at::Generator default_generator(c10::Device device) {
  return at::globalContext().defaultGenerator(device);
}

// Rank `rank`'s share of a global batch: rows [rank*per_rank, ...), clipped
// to the batch (a short last batch may leave a rank few or no rows). With
// world == 1 the batch itself.
Batch shard(const Batch& b, int rank, int world, int64_t per_rank) {
  if (world == 1) return b;
  const int64_t rows = b.inputs.size(0);
  const int64_t begin = std::min<int64_t>(rank * per_rank, rows);
  const int64_t n = std::min<int64_t>(per_rank, rows - begin);
  return Batch{b.inputs.narrow(0, begin, n), b.targets.narrow(0, begin, n)};
}

// Optimizer steps of the whole run: epochs x steps per epoch, or max_steps
// when smaller.
int64_t run_total_steps(const TrainConfig& t, int64_t steps_per_epoch) {
  const int64_t total = t.epochs * steps_per_epoch;
  return t.max_steps > 0 ? std::min(total, t.max_steps) : total;
}

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto total = static_cast<int64_t>(s + 0.5);
  if (total >= 3600)
    return fmt::format("{}h{:02d}m", total / 3600, (total / 60) % 60);
  if (total >= 60) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

// One run of `ember train`: the phases of train(), in the order run() calls
// them. Only rank 0 (the lead) logs and writes run.dir.
class Trainer {
 public:
  Trainer(const Config& cfg, const TrainOptions& opt);
  TrainResult run();

 private:
  // --- set-up, before any work ---------------------------------------------
  void join_group();
  void check_resume();
  void probe_run_dir() const;
  // --- data, model, run folder, state --------------------------------------
  void prepare_sample_prompt();
  void prepare_data();
  void prepare_schedule();
  void build_model();
  void init_weights();
  void claim_run_dir();
  bool move_earlier_run_aside();
  void create_run_dir() const;
  void remove_interrupted_saves() const;
  void restore();
  void prepare_reducer();
  // --- the loop --------------------------------------------------------------
  TrainResult train_loop();
  std::vector<Batch> next_micro_batches(Loader::Pass& pass) const;
  void train_step(const std::vector<Batch>& micro, const Loader::Pass& pass);
  void local_step(const std::vector<Batch>& micro);
  void distributed_step(const std::vector<Batch>& micro);
  std::pair<at::Tensor, double> rank_loss(const Batch& batch, size_t n);
  void agree_on_loss(double local);
  void reduce_and_update();
  void clip_gradients();
  void evaluate();
  double calc_loss_loader(Loader& loader);
  void print_sample();
  void save();
  void write_outputs() const;
  // --- the end ---------------------------------------------------------------
  TrainResult interrupted();
  TrainResult finish();
  void log_distributed_stats() const;
  // --- helpers ---------------------------------------------------------------
  bool max_steps_reached() const {
    return cfg_.train.max_steps > 0 && step_ >= cfg_.train.max_steps;
  }
  bool stop_requested() const;
  // Whether this step measures its gradient norm: it clips, or the
  // evaluation after it records the norm.
  bool norm_due() const {
    return schedule_->clips(step_) || step_ % cfg_.train.eval_freq == 0;
  }
  double session_s() const {
    return std::chrono::duration<double>(Clock::now() - t0_).count();
  }
  Error non_finite(const char* what, double v) const;
  void progress() const;

  const Config& cfg_;
  const TrainOptions& opt_;
  c10::Device device_{c10::kCPU};
  std::unique_ptr<dist::ProcessGroup> group_;
  // The training device is the current one for this thread (join_group).
  c10::OptionalDeviceGuard device_guard_;
  int rank_ = 0;
  int world_ = 1;
  bool lead_ = true;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> null_log_{
      nullptr, &std::fclose};
  std::FILE* log_ = nullptr;
  fs::path dir_;
  std::string ckpt_path_;
  std::string metrics_path_;
  std::string plot_path_;
  std::string samples_path_;
  std::string samples_;  // samples.txt: earlier sessions' lines, then ours
  std::optional<Tokenizer> tokenizer_;  // set with train.sample_prompt
  std::vector<TokenId> sample_ids_;
  RunLock lock_;  // the lead's, on run.dir, held until the end
  std::optional<Checkpoint> ckpt_;  // the one to resume from
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
  // Distributed runs: gradient all-reduce.
  std::unique_ptr<dist::GradientReducer> reducer_;
  torch::Tensor tok_table_;  // reduced by rows (set when it can be)
  // This session (train_loop).
  Clock::time_point t0_;
  int64_t tokens_at_start_ = 0;
  int64_t step_at_start_ = 0;
  int64_t total_steps_ = 0;  // optimizer steps of the whole run
  double last_lr_ = 0;       // of the last step, for its evaluation
  double last_grad_norm_ = std::nan("");
  bool tty_ = false;
  // Under torchrun every rank must stop at the same step: the flag is
  // agreed on in each step's all-reduce (distributed_step).
  bool stop_agreed_ = false;
  double comm_wait_s_ = 0;
};

Trainer::Trainer(const Config& cfg, const TrainOptions& opt)
    : cfg_(cfg), opt_(opt) {
  device_ = resolve_device(cfg_.train.device);
  check_module_names(model_options(cfg_.model));
  at::set_num_threads(static_cast<int>(resolve_threads(cfg_.train.threads)));
  check_blas_headroom();
  join_group();
  dir_ = fs::path(cfg_.run.dir);
  ckpt_path_ = (dir_ / "checkpoint.pt").string();
  metrics_path_ = (dir_ / "metrics.jsonl").string();
  plot_path_ = (dir_ / "loss.svg").string();
  samples_path_ = (dir_ / "samples.txt").string();
}

TrainResult Trainer::run() {
  check_resume();
  probe_run_dir();
  prepare_sample_prompt();
  prepare_data();
  prepare_schedule();
  build_model();
  claim_run_dir();
  restore();
  prepare_reducer();
  if (lead_) write_file_atomic((dir_ / "config.toml").string(), to_toml(cfg_));
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
    const bool pick_gpu = device_.is_cuda() && (cfg_.train.device == "auto" ||
                                                cfg_.train.device == "cuda");
    if (pick_gpu) {
      device_ = resolve_device(fmt::format("cuda:{}", launch.local_rank));
    }
  }
  // The training device is the current one for this thread, as
  // torch.cuda.set_device() makes it in a PyTorch script: what LibTorch and
  // NCCL create without naming a device (a CUDA context, communicators,
  // streams) lands on this rank's GPU, not on GPU 0 for every rank.
  if (device_.is_cuda()) device_guard_.reset_device(device_);
  if (launch.launched) {
    std::string backend = cfg_.train.backend;
    if (backend == "auto") backend = device_.is_cuda() ? "nccl" : "gloo";
    if (backend == "nccl" && !device_.is_cuda()) {
      throw ConfigError(
          "train.backend: nccl needs a CUDA device (got device cpu); hint: "
          "use backend = \"gloo\" or \"auto\"");
    }
    group_ = std::make_unique<dist::ProcessGroup>(
        launch, backend, std::chrono::seconds(cfg_.train.dist_timeout_s));
    group_->bind_device(device_);
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
  if (lead_) lock_ = RunLock::acquire(dir_, cfg_.run.dir, RunLock::kExisting);
  ckpt_ = load_checkpoint(ckpt_path_);
  const Config saved =
      parse_config(ckpt_->config_toml, ckpt_path_ + " (its config)");
  std::vector<std::string> diff;
  for (const auto& key : differing_keys(saved, cfg_)) {
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

// Refuse an unusable run.dir before the work, without creating it yet (a
// run refused later for its data leaves no trace).
void Trainer::probe_run_dir() const {
  if (!lead_) return;
  fs::path probe = dir_;
  std::error_code ec;
  while (!probe.empty() && !fs::exists(probe, ec)) probe = probe.parent_path();
  if (probe.empty()) probe = ".";
  if (!fs::is_directory(probe, ec)) {
    throw Error(fmt::format(
        "run.dir {}: {} is not a folder", cfg_.run.dir, probe.string()));
  }
  if (::access(probe.c_str(), W_OK) != 0) {
    throw Error(fmt::format(
        "run.dir {}: {} is not writable; hint: choose another run.dir",
        cfg_.run.dir,
        probe.string()));
  }
}

// Data: text (in memory) or token files (memory-mapped). The seed comes
// first, as in the PyTorch program (create_dataloader_v1 after
// manual_seed); reading and tokenizing draw nothing.
// train.sample_prompt's ids, checked against the vocabulary before any work.
void Trainer::prepare_sample_prompt() {
  if (cfg_.train.sample_prompt.empty()) return;
  tokenizer_.emplace(Tokenizer::gpt2());
  sample_ids_ = tokenizer_->encode(
      cfg_.train.sample_prompt, AllowedSpecial({"<|endoftext|>"}));
  for (const auto id : sample_ids_)
    check_token_id(static_cast<int64_t>(id), cfg_.model, "train.sample_prompt");
}

void Trainer::prepare_data() {
  torch::manual_seed(static_cast<uint64_t>(cfg_.train.seed));
  RunDataOptions options;
  options.vocab_size = cfg_.model.vocab_size;
  options.threads = static_cast<unsigned>(resolve_threads(cfg_.train.threads));
  options.global_batch = cfg_.data.batch_size * world_;
  data_.emplace(prepare_run_data(cfg_.data, options, log_));
}

// The learning-rate schedule over the run's optimizer steps. A resumed run
// keeps its checkpoint's schedule: a new length that would change the rates
// (cosine, warmup_ratio) is refused before any work.
void Trainer::prepare_schedule() {
  const auto steps_per_epoch =
      (data_->num_batches + cfg_.train.grad_accum_steps - 1) /
      cfg_.train.grad_accum_steps;
  total_steps_ = run_total_steps(cfg_.train, steps_per_epoch);
  schedule_.emplace(cfg_.train, total_steps_);
  if (!ckpt_ || !schedule_->depends_on_total()) return;
  const Config saved =
      parse_config(ckpt_->config_toml, ckpt_path_ + " (its config)");
  const int64_t saved_total = run_total_steps(saved.train, steps_per_epoch);
  if (saved_total == total_steps_) return;
  throw ConfigError(fmt::format(
      "resume {}: the learning-rate schedule ({}) spans the run's optimizer "
      "steps, which train.epochs and train.max_steps change (got {} steps, "
      "expected {} as in the checkpoint); hint: resume with the "
      "checkpoint's train.epochs and train.max_steps, or start a new run.dir",
      cfg_.run.dir,
      cfg_.train.lr_schedule == "cosine" ? "cosine decay" : "warmup_ratio",
      total_steps_,
      saved_total));
}

// --init-from: the file's weights over the seeded ones (the draws made
// building the model stay, so dropout and shuffling match a seeded run). A
// bad file is a usage error, found before the run folder is touched.
void Trainer::init_weights() {
  try {
    load_weights(*model_, opt_.init_from);
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(fmt::format("--init-from: {}", e.what()));
  }
  if (lead_) fmt::print(log_, "init: weights from {}\n", opt_.init_from);
}

void Trainer::build_model() {
  torch::manual_seed(static_cast<uint64_t>(cfg_.train.seed));
  model_ = GPTModel(model_options(cfg_.model));
  if (!opt_.init_from.empty()) init_weights();
  model_->to(device_);
  NamedTensors params;
  for (const auto& item : model_->named_parameters())
    params.emplace_back(item.key(), item.value());
  // Tied weights could appear under two names: clip and reduce each once.
  for (const auto& p : model_->parameters()) {
    const bool seen = std::any_of(params_.begin(), params_.end(), [&](auto& u) {
      return u.unsafeGetTensorImpl() == p.unsafeGetTensorImpl();
    });
    if (!seen) params_.push_back(p);
  }
  optimizer_ = std::make_unique<AdamW>(
      params, AdamWOptions{cfg_.train.lr, cfg_.train.weight_decay});
}

// The lead takes run.dir for this run: locks it before anything in it is
// touched, moves an earlier run aside (fresh runs), creates it and locks the
// new folder, and removes what an interrupted save left.
void Trainer::claim_run_dir() {
  if (!lead_) return;
  if (!lock_.held())
    lock_ = RunLock::acquire(dir_, cfg_.run.dir, RunLock::kIfPossible);
  // The lock file moves aside with the earlier run; the new folder gets
  // its own before the old one is released.
  const bool moved = !ckpt_ && move_earlier_run_aside();
  create_run_dir();
  if (moved || !lock_.held())
    lock_ = RunLock::acquire(dir_, cfg_.run.dir, RunLock::kRequired);
  remove_interrupted_saves();
}

// A fresh run never destroys an earlier one: a run.dir that already holds a
// run is moved aside to the first free <run.dir>.N sibling. True if moved.
bool Trainer::move_earlier_run_aside() {
  std::error_code ec;
  const bool had_run = fs::exists(dir_ / "checkpoint.pt", ec) ||
                       fs::exists(dir_ / "metrics.jsonl", ec) ||
                       fs::exists(dir_ / "config.toml", ec);
  if (!had_run) return false;
  fs::path base = dir_;
  if (!base.has_filename()) base = base.parent_path();
  fs::path aside;
  for (int n = 1;; ++n) {
    aside = base;
    aside += "." + std::to_string(n);
    if (!fs::exists(aside, ec)) break;
  }
  fs::rename(base, aside, ec);
  if (ec) {
    throw Error(fmt::format(
        "run.dir {}: holds an earlier run that cannot be moved aside to {} "
        "({}); hint: use --resume {} or another run.dir",
        cfg_.run.dir,
        aside.string(),
        ec.message(),
        cfg_.run.dir));
  }
  fmt::print(
      log_,
      "note: {} held an earlier run; moved it to {} (use --resume {} to "
      "continue a run instead)\n",
      cfg_.run.dir,
      aside.string(),
      cfg_.run.dir);
  return true;
}

void Trainer::create_run_dir() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    throw Error(fmt::format(
        "run.dir {}: cannot create the folder ({})",
        cfg_.run.dir,
        ec.message()));
  }
}

// Temp files of saves that a kill interrupted (checkpoint.pt.tmp.<pid>).
void Trainer::remove_interrupted_saves() const {
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().filename().string().rfind("checkpoint.pt.tmp.", 0) == 0) {
      std::error_code ignored;
      fs::remove(entry.path(), ignored);
    }
  }
}

// The state of a resumed run: weights, optimizer, position, generators and
// the evaluations so far.
void Trainer::restore() {
  if (!ckpt_) return;
  load_model_state(*model_, ckpt_->model, "resume " + ckpt_path_);
  optimizer_->load_state(ckpt_->optimizer);
  step_ = ckpt_->step;
  epoch_ = ckpt_->epoch;
  position_ = ckpt_->position;
  sampler_seed_ = ckpt_->sampler_seed;
  tokens_seen_ = ckpt_->tokens_seen;
  elapsed_before_ = ckpt_->elapsed_s;
  saved_step_ = step_;
  {
    auto gen = default_generator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(ckpt_->cpu_rng);
  }
  if (device_.is_cuda() && ckpt_->cuda_rng.defined()) {
    auto gen = default_generator(device_);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(ckpt_->cuda_rng);
  }
  if (fs::exists(samples_path_)) samples_ = read_file(samples_path_);
  if (fs::exists(metrics_path_)) {
    for (const auto& r : parse_metrics(read_file(metrics_path_))) {
      if (r.step <= step_) evals_.push_back(r);
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

void Trainer::prepare_reducer() {
  if (!group_) return;
  // Identical starting weights on every rank (the seed already gives them;
  // the broadcast makes it a fact, resumed runs included).
  std::vector<torch::Tensor> state;
  for (auto& [name, t] : model_state(*model_)) state.push_back(t);
  {
    c10::NoGradGuard no_grad;
    group_->broadcast(state, 0);
  }
  // The token table's gradient is non-zero only in the rows of the ids the
  // batch looked up (embedding backward is an index_add), unless the output
  // head shares the table: then every row has a gradient.
  std::vector<torch::Tensor> row_sparse;
  if (cfg_.train.dist_sparse_embedding && !cfg_.model.tie_weights) {
    // Keep the dict alive: find() points into it.
    const auto named = model_->named_parameters();
    if (const auto* t = named.find("tok_emb.weight")) {
      tok_table_ = *t;
      row_sparse.push_back(tok_table_);
    }
  }
  reducer_ = std::make_unique<dist::GradientReducer>(
      *group_, params_, size_t{4} << 20, row_sparse);
}

void Trainer::write_outputs() const {
  if (!lead_) return;
  std::string lines;
  for (const auto& r : evals_) lines += metrics_json(r) + "\n";
  write_file_atomic(metrics_path_, lines);
  write_file_atomic(plot_path_, loss_plot_svg(evals_));
}

TrainResult Trainer::train_loop() {
  t0_ = Clock::now();
  tokens_at_start_ = tokens_seen_;
  step_at_start_ = step_;
  const int64_t num_batches = data_->num_batches;
  tty_ = opt_.progress && lead_;
  // A checkpoint at the end of a pass continues with the next epoch.
  if (position_ >= num_batches) {
    ++epoch_;
    position_ = 0;
    sampler_seed_ = -1;
  }
  bool done = max_steps_reached();
  model_->train();
  while (!done && epoch_ < cfg_.train.epochs) {
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
    print_sample();
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
  while (static_cast<int64_t>(micro.size()) < cfg_.train.grad_accum_steps) {
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
  for (const auto& b : micro) tokens_seen_ += b.inputs.numel();
  ++step_;
  position_ = static_cast<int64_t>(pass.position());
  sampler_seed_ = pass.sampler_seed();
  if ((step_ - 1) % cfg_.train.eval_freq == 0) evaluate();
  progress();
}

// Gradients summed over the micro-batches, each loss divided by their
// number (not divided when there is one, as before accumulation existed).
void Trainer::local_step(const std::vector<Batch>& micro) {
  const auto n = static_cast<double>(micro.size());
  for (const auto& b : micro) {
    auto loss = lm_loss(model_(b.inputs.to(device_)), b.targets.to(device_));
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
  last_grad_norm_ = clip_grad_norm(params_, clip ? cfg_.train.grad_clip : 0.0);
}

// This rank's loss on its share of one global micro-batch, scaled so that
// the ranks' averaged gradients sum to the step's mean (undefined when the
// rank got no rows), and its value's share of the step's global loss.
std::pair<at::Tensor, double> Trainer::rank_loss(const Batch& batch, size_t n) {
  const Batch mine = shard(batch, rank_, world_, cfg_.data.batch_size);
  const int64_t rows = mine.inputs.size(0);
  if (rows == 0) return {at::Tensor(), 0.0};
  const double share =
      static_cast<double>(rows) / static_cast<double>(batch.inputs.size(0));
  const auto loss =
      lm_loss(model_(mine.inputs.to(device_)), mine.targets.to(device_));
  const double num = static_cast<double>(n);
  return {loss * (share * world_ / num), loss.item<double>() * share / num};
}

// Gradient accumulation as DDP's no_sync(): the micro-batches before the
// last only add to .grad(); the last one's backward launches the buckets'
// all-reduces (once per step, of the summed gradients).
void Trainer::distributed_step(const std::vector<Batch>& micro) {
  // Every rank names its ids, even none: the row mask is a collective. It
  // covers every micro-batch whose gradient the step sums.
  if (tok_table_.defined()) {
    std::vector<at::Tensor> ids;
    for (const auto& b : micro) {
      ids.push_back(
          shard(b, rank_, world_, cfg_.data.batch_size).inputs.reshape({-1}));
    }
    reducer_->expect_rows(tok_table_, ids.size() == 1 ? ids[0] : at::cat(ids));
  }
  double local = 0;
  reducer_->set_require_sync(false);
  for (size_t j = 0; j < micro.size(); ++j) {
    auto [loss, part] = rank_loss(micro[j], micro.size());
    local += part;
    if (j + 1 == micro.size()) {
      agree_on_loss(local);
      reducer_->set_require_sync(true);
    }
    if (loss.defined()) loss.backward();
  }
  reduce_and_update();
}

// The global loss and the stop flag, agreed on before the last backward: a
// non-finite loss stops every rank before any weight changes, as without
// torchrun (the all-reduce also absorbs the ranks' forward imbalance, so it
// counts as communication).
void Trainer::agree_on_loss(double local) {
  const bool stop_here = opt_.stop != nullptr && opt_.stop->load() != 0;
  auto agreed = at::empty({2}, at::kDouble);
  agreed.data_ptr<double>()[0] = local;
  agreed.data_ptr<double>()[1] = stop_here ? 1.0 : 0.0;
  const auto agree_start = std::chrono::steady_clock::now();
  group_->allreduce_sum(agreed);
  comm_wait_s_ += std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - agree_start)
                      .count();
  const double loss_value = agreed.data_ptr<double>()[0];
  stop_agreed_ = agreed.data_ptr<double>()[1] > 0;
  if (!std::isfinite(loss_value)) {
    ++step_;
    throw non_finite("training", loss_value);
  }
}

void Trainer::reduce_and_update() {
  if (norm_due()) {
    // Clipping needs every averaged gradient before any update.
    reducer_->finish();
    comm_wait_s_ += reducer_->last_wait_s();
    clip_gradients();
    optimizer_->step();
    return;
  }
  last_grad_norm_ = std::nan("");  // not measured
  // Each bucket's parameters are updated as soon as their averaged
  // gradients arrive, while the larger buckets are still on the wire.
  optimizer_->begin_step();
  reducer_->finish([&](const std::vector<at::Tensor>& reduced) {
    for (const auto& p : reduced) optimizer_->update(p);
  });
  comm_wait_s_ += reducer_->last_wait_s();
}

// The book's evaluate_model: eval mode, no grad, then back to training;
// logs and records both losses.
void Trainer::evaluate() {
  double train_loss = 0;
  double val_loss = 0;
  {
    c10::NoGradGuard no_grad;
    model_->eval();
    train_loss = calc_loss_loader(data_->train);
    val_loss = calc_loss_loader(data_->val);
    model_->train();
  }
  EvalRecord r;
  r.step = step_;
  r.epoch = epoch_ + 1;
  r.train_loss = train_loss;
  r.val_loss = val_loss;
  r.tokens_seen = tokens_seen_;
  r.elapsed_s = elapsed_before_ + session_s();
  r.tokens_per_s = static_cast<double>(tokens_seen_ - tokens_at_start_) /
                   std::max(session_s(), 1e-9);
  r.lr = last_lr_;
  r.grad_norm = last_grad_norm_;
  evals_.push_back(r);
  write_outputs();
  if (tty_) fmt::print(stdout, "\r\033[K");
  fmt::print(
      log_,
      "ep {} (step {:06d}): train loss {:.3f}, val loss {:.3f} | lr {:.3g} | "
      "tokens seen {} | {:.0f} tok/s\n",
      r.epoch,
      r.step,
      r.train_loss,
      r.val_loss,
      r.lr,
      r.tokens_seen,
      r.tokens_per_s);
  std::fflush(log_);
  if (!std::isfinite(train_loss))
    throw non_finite("training (evaluation)", train_loss);
  if (!std::isfinite(val_loss)) throw non_finite("validation", val_loss);
}

// The book's generate_and_print_sample, after each epoch: greedy
// continuation of train.sample_prompt in eval mode (no random draws, so the
// run's numbers do not change), printed on one line and appended to
// run.dir/samples.txt.
void Trainer::print_sample() {
  if (cfg_.train.sample_prompt.empty() || !lead_) return;
  const Tokenizer& tokenizer = *tokenizer_;
  GenerateOptions gen;
  gen.max_new_tokens = cfg_.train.sample_tokens;
  gen.context_size = cfg_.model.context_length;
  const auto out = generate(model_, id_batch(sample_ids_).to(device_), gen);
  model_->train();
  std::string text = tokenizer.decode(row_ids(out[0]));
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (tty_) fmt::print(stdout, "\r\033[K");
  fmt::print(log_, "sample (epoch {}): {}\n", epoch_ + 1, text);
  std::fflush(log_);
  samples_ += fmt::format("epoch {} (step {}): {}\n", epoch_ + 1, step_, text);
  write_file_atomic(samples_path_, samples_);
}

// The book's calc_loss_loader(num_batches=eval_iter): a fresh pass.
double Trainer::calc_loss_loader(Loader& loader) {
  const auto n = std::min<int64_t>(
      cfg_.train.eval_iter, static_cast<int64_t>(loader.num_batches()));
  if (n == 0) return std::nan("");
  auto pass = loader.begin_pass();
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto b = pass.next();
    if (world_ == 1) {
      total += lm_loss(model_(b->inputs.to(device_)), b->targets.to(device_))
                   .item<double>();
      continue;
    }
    // This rank's rows' share of the global batch mean.
    const Batch mine = shard(*b, rank_, world_, cfg_.data.batch_size);
    const int64_t rows = mine.inputs.size(0);
    if (rows == 0) continue;
    total += lm_loss(model_(mine.inputs.to(device_)), mine.targets.to(device_))
                 .item<double>() *
             static_cast<double>(rows) / static_cast<double>(b->inputs.size(0));
  }
  if (group_) total = group_->allreduce_sum(total);
  return total / static_cast<double>(n);
}

void Trainer::save() {
  if (!lead_) {
    saved_step_ = step_;
    return;
  }
  Checkpoint c;
  c.config_toml = to_toml(cfg_);
  c.step = step_;
  c.epoch = epoch_;
  c.position = position_;
  c.sampler_seed = sampler_seed_;
  c.tokens_seen = tokens_seen_;
  c.elapsed_s = elapsed_before_ + session_s();
  c.model = model_state(*model_);
  c.optimizer = optimizer_->state();
  {
    auto gen = default_generator(c10::Device(c10::kCPU));
    std::lock_guard<std::mutex> lock(gen.mutex());
    c.cpu_rng = gen.get_state();
  }
  if (device_.is_cuda()) {
    auto gen = default_generator(device_);
    std::lock_guard<std::mutex> lock(gen.mutex());
    c.cuda_rng = gen.get_state();
  }
  save_checkpoint(ckpt_path_, c);
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
                ckpt_path_)
          : std::string("no checkpoint was saved yet; hint: lower train.lr")));
}

void Trainer::progress() const {
  if (!tty_) return;
  const double done = static_cast<double>(step_) /
                      static_cast<double>(std::max<int64_t>(total_steps_, 1));
  const int width = 30;
  const int fill = static_cast<int>(done * width);
  const int64_t this_session = step_ - step_at_start_;
  const double eta = this_session > 0
                         ? session_s() / static_cast<double>(this_session) *
                               static_cast<double>(total_steps_ - step_)
                         : NAN;
  fmt::print(
      stdout,
      "\r[{}{}] step {}/{} {:3.0f}% ETA {}\033[K",
      std::string(static_cast<size_t>(fill), '#'),
      std::string(static_cast<size_t>(width - fill), '.'),
      step_,
      total_steps_,
      100 * done,
      duration(eta));
  std::fflush(stdout);
}

// A stop signal ended the loop after a step (its checkpoint is saved).
TrainResult Trainer::interrupted() {
  if (tty_) fmt::print(stdout, "\r\033[K");
  fmt::print(
      log_,
      "interrupted: checkpoint at step {} saved to {}; continue with: "
      "ember train --resume {}\n",
      step_,
      ckpt_path_,
      cfg_.run.dir);
  TrainResult result;
  result.interrupted = true;
  result.step = step_;
  result.evals = evals_;
  if (group_) group_->shutdown();
  return result;
}

TrainResult Trainer::finish() {
  if (tty_) fmt::print(stdout, "\r\033[K");
  TrainResult result;
  if (stop_requested()) {
    result.interrupted = true;
    if (step_ != saved_step_) save();
  } else if (step_ != saved_step_) {
    save();
  }
  fmt::print(
      log_,
      "done: {} steps, {} tokens seen; {:.1f} s, {:.0f} tokens/s this session; "
      "outputs in {}\n",
      step_,
      tokens_seen_,
      session_s(),
      static_cast<double>(tokens_seen_ - tokens_at_start_) /
          std::max(session_s(), 1e-9),
      cfg_.run.dir);
  if (group_ && step_ > step_at_start_) log_distributed_stats();
  result.step = step_;
  result.evals = evals_;
  if (group_) group_->shutdown();
  return result;
}

void Trainer::log_distributed_stats() const {
  const double per_step =
      session_s() / static_cast<double>(step_ - step_at_start_);
  const double wait =
      comm_wait_s_ / static_cast<double>(step_ - step_at_start_);
  fmt::print(
      log_,
      "distributed: gradient all-reduce wait {:.1f} ms/step of {:.1f} "
      "ms/step ({:.1f}%)\n",
      1e3 * wait,
      1e3 * per_step,
      100 * wait / per_step);
  // One all-reduce per bucket and optimizer step, however many
  // micro-batches the step sums (train.grad_accum_steps).
  const auto stats = reducer_->stats();
  fmt::print(
      log_,
      "distributed: {} bucket all-reduces in {} optimizer steps ({} buckets, "
      "{} micro-batches a step)\n",
      stats.allreduces,
      stats.steps,
      stats.buckets.size(),
      cfg_.train.grad_accum_steps);
  // Where the wait comes from, bucket by bucket (backward fills them in
  // this order).
  for (size_t k = 0; k < stats.buckets.size(); ++k) {
    const auto& b = stats.buckets[k];
    fmt::print(
        log_,
        "distributed: bucket {} ({} {}, {}): {:.2f} MB/step, launched "
        "{:.1f} ms after the first gradient (finish at {:.1f} ms), wait "
        "{:.1f} ms/step\n",
        k,
        b.num_params,
        b.num_params == 1 ? "tensor" : "tensors",
        b.row_sparse ? "row-sparse" : "dense",
        b.mbytes,
        b.ready_ms,
        stats.backward_ms,
        b.wait_ms);
  }
}

}  // namespace

c10::Device resolve_device(const std::string& device) {
  if (device == "cpu") return c10::Device(c10::kCPU);
  const bool compiled = cuda_compiled();
  const int64_t count =
      compiled ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  if (device == "auto")
    return count > 0 ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  int64_t index = 0;
  if (device.size() > 5) index = std::stoll(device.substr(5));
  if (!compiled) {
    throw ConfigError(fmt::format(
        "train.device: {} requested but this LibTorch build has no CUDA "
        "support; hint: use device = \"cpu\" or \"auto\", or build against a "
        "CUDA LibTorch (scripts/gpu-check.sh)",
        device));
  }
  if (count == 0) {
    throw ConfigError(fmt::format(
        "train.device: {} requested but no CUDA device is present (driver "
        "missing or no GPU visible); hint: use device = \"cpu\" or \"auto\"",
        device));
  }
  if (index >= count) {
    throw ConfigError(fmt::format(
        "train.device: no such CUDA device (got {}, expected cuda:0 to "
        "cuda:{})",
        device,
        count - 1));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

int64_t resolve_threads(int64_t threads) {
  if (threads > 0) return threads;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int64_t>(n);
}

const std::vector<std::string>& resumable_keys() {
  static const std::vector<std::string> kKeys = {
      "train.epochs",
      "train.max_steps",
      "train.device",
      "train.threads",
      "train.backend",
      "train.dist_timeout_s",
      "train.dist_sparse_embedding",
      "train.sample_prompt",
      "train.sample_tokens",
      "run.dir",
      "run.checkpoint_every",
      "data.num_workers"};
  return kKeys;
}

TrainResult train(const Config& cfg, const TrainOptions& opt) {
  Trainer trainer(cfg, opt);
  return trainer.run();
}

}  // namespace ember

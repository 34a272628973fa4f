// Notes (design and speed, measured on the project's 2-core machine):
// - The random draws follow the PyTorch program step by step:
//   manual_seed; loaders; manual_seed; model; AdamW; per epoch a train pass
//   (Loader draws like DataLoader); each evaluation begins a fresh train and
//   val pass, which draws too. Nothing else may touch the generator.
// - AdamW is ember::AdamW (one fused pass per tensor); gradients are dropped,
//   not zeroed, between steps. Both leave every value as PyTorch's.
#include "ember/train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <typeinfo>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/ops/empty.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/GradMode.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <unistd.h>

#include <ember/train/adamw.hpp>
#include <ember/checkpoint/checkpoint.hpp>
#include <ember/data/gpt_dataset.hpp>
#include <ember/data/loader.hpp>
#include <ember/dist/process_group.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>
#include <ember/text/mapped_token_file.hpp>
#include <ember/util/memory_budget.hpp>
#include <ember/nn/embedding_lm.hpp>
#include <ember/nn/registry.hpp>
#include <ember/text/token_file.hpp>
#include <ember/text/tokenizer.hpp>

namespace ember {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

bool cuda_compiled() {
  // Without the CUDA library LibTorch answers with the stub interface.
  const auto& hooks = at::detail::getCUDAHooks();
  return typeid(hooks) != typeid(at::CUDAHooksInterface);
}

// Python's open(..., encoding="utf-8").read(): universal newlines.
std::string read_text(const std::string& path, std::string_view key) {
  const std::string raw = read_file(path);
  if (auto bad = find_invalid_utf8(raw)) {
    throw Error(
        fmt::format("{} {}: invalid UTF-8 at byte offset {}", key, path, *bad));
  }
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      out += '\n';
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else {
      out += raw[i];
    }
  }
  return out;
}

// Byte offset of code point `n` of valid UTF-8 `s` (Python's text[:n]).
size_t codepoint_offset(const std::string& s, int64_t n) {
  int64_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == n) return i;
      ++seen;
    }
  }
  return s.size();
}

int64_t count_codepoints(const std::string& s) {
  int64_t n = 0;
  for (const char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

torch::Tensor to_tensor(const std::vector<TokenId>& ids) {
  auto t = at::empty({static_cast<int64_t>(ids.size())}, at::kLong);
  auto* p = t.data_ptr<int64_t>();
  for (size_t i = 0; i < ids.size(); ++i) p[i] = ids[i];
  return t;
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

// The ids of the training or the validation part: an int64 tensor in
// memory (from a text), or a range of a memory-mapped token file.
struct DataPart {
  torch::Tensor ids;
  std::shared_ptr<const MappedTokenFile> file;
  uint64_t begin = 0;
  uint64_t count = 0;
  std::string what;  // the file, for messages

  int64_t size() const {
    return file != nullptr ? static_cast<int64_t>(count) : ids.numel();
  }
  int64_t max_id() const {
    if (file != nullptr) return file->max_id(begin, count);
    return ids.max().item<int64_t>();
  }
  GptDataset dataset(int64_t max_length, int64_t stride) const {
    if (file != nullptr) {
      return GptDataset(file, max_length, stride, begin, count);
    }
    return GptDataset(ids, max_length, stride);
  }
};

// Maps a token file (checksum verified: one pass) written for GPT-2.
std::shared_ptr<const MappedTokenFile> open_token_file(
    const std::string& path, std::string_view key) {
  auto file = std::make_shared<const MappedTokenFile>(path);
  if (file->header().vocab_name != "gpt2") {
    throw ConfigError(fmt::format(
        "{} {}: the token file is for vocabulary '{}' (expected gpt2)",
        key,
        path,
        file->header().vocab_name));
  }
  return file;
}

// A whole file as one part: a token file mapped, a text tokenized.
DataPart load_whole_file(
    const std::string& path,
    std::string_view key,
    const Tokenizer& tokenizer,
    unsigned threads) {
  DataPart part;
  part.what = path;
  if (is_token_file(path)) {
    part.file = open_token_file(path, key);
    part.count = part.file->size();
    return part;
  }
  check_text_fits_memory(path, std::string(key));
  const std::string text = read_text(path, key);
  part.ids = to_tensor(tokenizer.encode_parallel(
      text, AllowedSpecial({"<|endoftext|>"}), Disallowed::kRaise, threads));
  return part;
}

NamedTensors model_state(torch::nn::Module& m) {
  NamedTensors out;
  for (const auto& item : m.named_parameters())
    out.emplace_back(item.key(), item.value());
  for (const auto& item : m.named_buffers())
    out.emplace_back(item.key(), item.value());
  return out;
}

void load_model_state(
    torch::nn::Module& m, const NamedTensors& saved, const std::string& where) {
  std::map<std::string, torch::Tensor> by_name(saved.begin(), saved.end());
  c10::NoGradGuard no_grad;
  for (auto& [name, t] : model_state(m)) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      throw Error(fmt::format(
          "{}: the checkpoint has no '{}'; it is from another model",
          where,
          name));
    }
    if (it->second.sizes() != t.sizes()) {
      throw Error(fmt::format(
          "{}: '{}' has shape {} in the checkpoint, expected {}",
          where,
          name,
          it->second.sizes(),
          t.sizes()));
    }
    t.copy_(it->second);
  }
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

std::string duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const auto total = static_cast<int64_t>(s + 0.5);
  if (total >= 3600)
    return fmt::format("{}h{:02d}m", total / 3600, (total / 60) % 60);
  if (total >= 60) return fmt::format("{}m{:02d}s", total / 60, total % 60);
  return fmt::format("{}s", total);
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
      "run.dir",
      "run.checkpoint_every",
      "data.num_workers"};
  return kKeys;
}

TrainResult train(const Config& cfg, const TrainOptions& opt) {
  c10::Device device = resolve_device(cfg.train.device);
  check_input_embedding(cfg.model.pos_encoding);
  at::set_num_threads(static_cast<int>(resolve_threads(cfg.train.threads)));
  check_blas_headroom();

  // --- distributed: joined when started by torchrun (WORLD_SIZE set) -------
  // Each rank trains on its share of every global batch of
  // world * data.batch_size windows, so N ranks x batch b is the run of one
  // process x batch N*b; gradients are averaged with bucketed all-reduce.
  const auto launch = dist::LaunchEnv::from_env();
  std::unique_ptr<dist::ProcessGroup> group;
  if (launch.launched) {  // a 1-rank group too: same code path as N ranks
    const bool pick_gpu = device.is_cuda() && (cfg.train.device == "auto" ||
                                               cfg.train.device == "cuda");
    if (pick_gpu) {
      device = resolve_device(fmt::format("cuda:{}", launch.local_rank));
    }
  }
  // The training device is the current one for this thread, as
  // torch.cuda.set_device() makes it in a PyTorch script: what LibTorch and
  // NCCL create without naming a device (a CUDA context, communicators,
  // streams) lands on this rank's GPU, not on GPU 0 for every rank.
  c10::OptionalDeviceGuard device_guard;
  if (device.is_cuda()) device_guard.reset_device(device);
  if (launch.launched) {
    std::string backend = cfg.train.backend;
    if (backend == "auto") backend = device.is_cuda() ? "nccl" : "gloo";
    if (backend == "nccl" && !device.is_cuda()) {
      throw ConfigError(
          "train.backend: nccl needs a CUDA device (got device cpu); hint: "
          "use backend = \"gloo\" or \"auto\"");
    }
    group = std::make_unique<dist::ProcessGroup>(
        launch, backend, std::chrono::seconds(cfg.train.dist_timeout_s));
    group->bind_device(device);
  }
  const int rank = group ? group->rank() : 0;
  const int world = group ? group->size() : 1;
  const bool lead = rank == 0;  // only rank 0 logs and writes run.dir
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> null_log(
      lead ? nullptr : std::fopen("/dev/null", "w"), &std::fclose);
  std::FILE* log = lead ? opt.log : null_log.get();
  if (!lead && log == nullptr) log = stderr;
  if (group) {
    fmt::print(
        log,
        "distributed: {} ranks, backend {}, global batch {} ({} per rank)\n",
        world,
        group->backend(),
        cfg.data.batch_size * world,
        cfg.data.batch_size);
  }

  const fs::path dir(cfg.run.dir);
  const std::string ckpt_path = (dir / "checkpoint.pt").string();
  const std::string metrics_path = (dir / "metrics.jsonl").string();
  const std::string plot_path = (dir / "loss.svg").string();

  // --- a checkpoint to resume from: refuse it before any work --------------
  std::optional<Checkpoint> ckpt;
  if (opt.resume) {
    ckpt = load_checkpoint(ckpt_path);
    const Config saved =
        parse_config(ckpt->config_toml, ckpt_path + " (its config)");
    std::vector<std::string> diff;
    for (const auto& key : differing_keys(saved, cfg)) {
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
          cfg.run.dir,
          fmt::join(diff, ", ")));
    }
  }

  if (lead) {
    // Refuse an unusable run.dir before the work, without creating it yet
    // (a run refused later for its data leaves no trace).
    fs::path probe = dir;
    std::error_code ec;
    while (!probe.empty() && !fs::exists(probe, ec))
      probe = probe.parent_path();
    if (probe.empty()) probe = ".";
    if (!fs::is_directory(probe, ec)) {
      throw Error(fmt::format(
          "run.dir {}: {} is not a folder", cfg.run.dir, probe.string()));
    }
    if (::access(probe.c_str(), W_OK) != 0) {
      throw Error(fmt::format(
          "run.dir {}: {} is not writable; hint: choose another run.dir",
          cfg.run.dir,
          probe.string()));
    }
  }

  // --- data: text (in memory) or token files (memory-mapped) --------------
  const Tokenizer tokenizer = Tokenizer::gpt2();
  const unsigned tok_threads =
      static_cast<unsigned>(resolve_threads(cfg.train.threads));
  DataPart train_part;
  DataPart val_part;
  if (!cfg.data.train_path.empty()) {
    train_part = load_whole_file(
        cfg.data.train_path, "data.train_path", tokenizer, tok_threads);
    val_part = load_whole_file(
        cfg.data.val_path, "data.val_path", tokenizer, tok_threads);
  } else if (is_token_file(cfg.data.path)) {
    // A token file is split by tokens: a character split means nothing once
    // the text is gone (nanoGPT splits its .bin files the same way).
    auto file = open_token_file(cfg.data.path, "data.path");
    const uint64_t n = file->size();
    const auto n_train =
        static_cast<uint64_t>(cfg.data.train_ratio * static_cast<double>(n));
    train_part = {{}, file, 0, n_train, cfg.data.path};
    val_part = {{}, file, n_train, n - n_train, cfg.data.path};
  } else {
    // The book's character split, each part tokenized alone.
    check_text_fits_memory(cfg.data.path, "data.path");
    const std::string text = read_text(cfg.data.path, "data.path");
    const auto split_chars = static_cast<int64_t>(
        cfg.data.train_ratio * static_cast<double>(count_codepoints(text)));
    const size_t split = codepoint_offset(text, split_chars);
    const AllowedSpecial eot({"<|endoftext|>"});
    train_part.ids = to_tensor(tokenizer.encode_parallel(
        std::string_view(text).substr(0, split),
        eot,
        Disallowed::kRaise,
        tok_threads));
    val_part.ids = to_tensor(tokenizer.encode_parallel(
        std::string_view(text).substr(split),
        eot,
        Disallowed::kRaise,
        tok_threads));
    train_part.what = val_part.what = cfg.data.path;
  }
  for (const DataPart* part : {&train_part, &val_part}) {
    if (part->size() == 0) continue;
    const int64_t top = part->max_id();
    if (top >= cfg.model.vocab_size) {
      throw ConfigError(fmt::format(
          "model.vocab_size: the data has token id {} (got vocab_size {}, "
          "expected > {})",
          top,
          cfg.model.vocab_size,
          top));
    }
  }
  const int64_t max_length = cfg.data.max_length;
  const bool separate = !cfg.data.train_path.empty();
  for (const auto& [part_name, part, hint] :
       {std::tuple{
            "training",
            &train_part,
            separate ? "lower data.max_length or use a longer file"
                     : "lower data.max_length or use a longer text"},
        std::tuple{
            "validation",
            &val_part,
            separate ? "lower data.max_length or use a longer file"
                     : "lower data.max_length or data.train_ratio"}}) {
    if (part->size() <= max_length) {
      throw ConfigError(fmt::format(
          "data: the {} part of {} has {} tokens, expected at least "
          "max_length + 1 = {}; hint: {}",
          part_name,
          part->what,
          part->size(),
          max_length + 1,
          hint));
    }
  }
  for (const auto& [part_name, part] :
       {std::pair{"training", &train_part},
        std::pair{"validation", &val_part}}) {
    if (part->file != nullptr) {
      fmt::print(
          log,
          "data: {} on {} tokens [{}, {}) of token file {} (memory-mapped)\n",
          part_name,
          part->count,
          part->begin,
          part->begin + part->count,
          part->what);
    }
  }

  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));
  const int64_t global_batch = cfg.data.batch_size * world;
  Loader train_loader(
      train_part.dataset(max_length, cfg.data.stride),
      LoaderOptions{
          global_batch,
          cfg.data.shuffle,
          cfg.data.drop_last,
          cfg.data.num_workers});
  Loader val_loader(
      val_part.dataset(max_length, cfg.data.stride),
      LoaderOptions{global_batch, false, false, cfg.data.num_workers});
  const auto num_batches = static_cast<int64_t>(train_loader.num_batches());
  if (cfg.data.shuffle) {
    // A shuffled pass holds randperm(W) as int64 (PyTorch's RandomSampler
    // too), and an evaluation's fresh pass a second one beside it.
    const uint64_t windows = train_loader.dataset().num_windows();
    const uint64_t need = 2 * 8 * windows;
    const MemoryBudget budget = available_memory();
    if (need > budget.bytes) {
      throw Error(fmt::format(
          "data: shuffling {} training windows needs about {} for their order "
          "(8 bytes per window, twice during evaluation), more than the {} "
          "available ({}); hint: raise data.stride (windows start every "
          "stride tokens) or set data.shuffle = false",
          windows,
          format_bytes(need),
          format_bytes(budget.bytes),
          budget.limit));
    }
  }
  if (num_batches == 0) {
    throw ConfigError(fmt::format(
        "data: the training part gives {} windows, fewer than one batch of "
        "batch_size {} (drop_last); hint: lower data.batch_size or "
        "data.stride",
        train_loader.dataset().size().value(),
        global_batch));
  }

  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));
  EmbeddingLM model(
      EmbeddingLMOptions(
          cfg.model.vocab_size, cfg.model.context_length, cfg.model.emb_dim)
          .drop_rate(cfg.model.drop_rate)
          .n_layers(cfg.model.n_layers)
          .tie_weights(cfg.model.tie_weights)
          .pos_encoding(cfg.model.pos_encoding));
  model->to(device);
  NamedTensors params;
  for (const auto& item : model->named_parameters())
    params.emplace_back(item.key(), item.value());
  AdamW optimizer(params, AdamWOptions{cfg.train.lr, cfg.train.weight_decay});

  // --- state: fresh or from the checkpoint --------------------------------
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t position = 0;
  int64_t sampler_seed = -1;
  int64_t tokens_seen = 0;
  double elapsed_before = 0;
  int64_t saved_step = -1;
  std::vector<EvalRecord> evals;
  if (!ckpt && lead) {
    // A fresh run never destroys an earlier one: a run.dir that already holds
    // a run is moved aside to the first free <run.dir>.N sibling.
    std::error_code ec;
    const bool had_run = fs::exists(dir / "checkpoint.pt", ec) ||
                         fs::exists(dir / "metrics.jsonl", ec) ||
                         fs::exists(dir / "config.toml", ec);
    if (had_run) {
      fs::path base = dir;
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
            "run.dir {}: holds an earlier run that cannot be moved aside to "
            "{} ({}); hint: use --resume {} or another run.dir",
            cfg.run.dir,
            aside.string(),
            ec.message(),
            cfg.run.dir));
      }
      fmt::print(
          log,
          "note: {} held an earlier run; moved it to {} (use --resume {} to "
          "continue a run instead)\n",
          cfg.run.dir,
          aside.string(),
          cfg.run.dir);
    }
  }
  if (lead) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      throw Error(fmt::format(
          "run.dir {}: cannot create the folder ({})",
          cfg.run.dir,
          ec.message()));
    }
  }
  // Temp files of saves that a kill interrupted (checkpoint.pt.tmp.<pid>).
  for (const auto& entry :
       lead ? fs::directory_iterator(dir) : fs::directory_iterator()) {
    if (entry.path().filename().string().rfind("checkpoint.pt.tmp.", 0) == 0) {
      std::error_code ignored;
      fs::remove(entry.path(), ignored);
    }
  }
  if (ckpt) {
    load_model_state(*model, ckpt->model, "resume " + ckpt_path);
    optimizer.load_state(ckpt->optimizer);
    step = ckpt->step;
    epoch = ckpt->epoch;
    position = ckpt->position;
    sampler_seed = ckpt->sampler_seed;
    tokens_seen = ckpt->tokens_seen;
    elapsed_before = ckpt->elapsed_s;
    saved_step = step;
    {
      auto gen = default_generator(c10::Device(c10::kCPU));
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(ckpt->cpu_rng);
    }
    if (device.is_cuda() && ckpt->cuda_rng.defined()) {
      auto gen = default_generator(device);
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_state(ckpt->cuda_rng);
    }
    if (fs::exists(metrics_path)) {
      for (const auto& r : parse_metrics(read_file(metrics_path))) {
        if (r.step <= step) evals.push_back(r);
      }
    }
    fmt::print(
        log,
        "resuming {} at step {} (epoch {}, batch {} of {})\n",
        cfg.run.dir,
        step,
        epoch + 1,
        position,
        num_batches);
  }
  std::unique_ptr<dist::GradientReducer> reducer;
  torch::Tensor tok_table;  // reduced by rows (set when it can be)
  if (group) {
    // Identical starting weights on every rank (the seed already gives
    // them; the broadcast makes it a fact, resumed runs included).
    std::vector<torch::Tensor> state;
    for (auto& [name, t] : model_state(*model)) state.push_back(t);
    {
      c10::NoGradGuard no_grad;
      group->broadcast(state, 0);
    }
    // Tied weights appear under two names: reduce each tensor once.
    std::vector<torch::Tensor> unique;
    for (const auto& p : model->parameters()) {
      const bool seen = std::any_of(unique.begin(), unique.end(), [&](auto& u) {
        return u.unsafeGetTensorImpl() == p.unsafeGetTensorImpl();
      });
      if (!seen) unique.push_back(p);
    }
    // The token table's gradient is non-zero only in the rows of the ids the
    // batch looked up (embedding backward is an index_add), unless the
    // output head shares the table: then every row has a gradient.
    std::vector<torch::Tensor> row_sparse;
    if (cfg.train.dist_sparse_embedding && !cfg.model.tie_weights) {
      // Keep the dict alive: find() points into it.
      const auto named = model->named_parameters();
      if (const auto* t = named.find("embedding.tok_emb.weight")) {
        tok_table = *t;
        row_sparse.push_back(tok_table);
      }
    }
    reducer = std::make_unique<dist::GradientReducer>(
        *group, unique, size_t{4} << 20, row_sparse);
  }
  if (lead) write_file_atomic((dir / "config.toml").string(), to_toml(cfg));
  auto write_outputs = [&] {
    if (!lead) return;
    std::string lines;
    for (const auto& r : evals) lines += metrics_json(r) + "\n";
    write_file_atomic(metrics_path, lines);
    write_file_atomic(plot_path, loss_plot_svg(evals));
  };
  write_outputs();

  // --- the loop ------------------------------------------------------------
  const auto t0 = Clock::now();
  const int64_t tokens_at_start = tokens_seen;
  const int64_t step_at_start = step;
  auto session_s = [&] {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  int64_t total_steps = cfg.train.epochs * num_batches;
  if (cfg.train.max_steps > 0)
    total_steps = std::min(total_steps, cfg.train.max_steps);

  auto save = [&] {
    if (!lead) {
      saved_step = step;
      return;
    }
    Checkpoint c;
    c.config_toml = to_toml(cfg);
    c.step = step;
    c.epoch = epoch;
    c.position = position;
    c.sampler_seed = sampler_seed;
    c.tokens_seen = tokens_seen;
    c.elapsed_s = elapsed_before + session_s();
    c.model = model_state(*model);
    c.optimizer = optimizer.state();
    {
      auto gen = default_generator(c10::Device(c10::kCPU));
      std::lock_guard<std::mutex> lock(gen.mutex());
      c.cpu_rng = gen.get_state();
    }
    if (device.is_cuda()) {
      auto gen = default_generator(device);
      std::lock_guard<std::mutex> lock(gen.mutex());
      c.cuda_rng = gen.get_state();
    }
    save_checkpoint(ckpt_path, c);
    saved_step = step;
  };
  auto non_finite = [&](const char* what, double v) {
    return Error(fmt::format(
        "step {}: {} loss is {}; stopped, {}",
        step,
        what,
        std::isnan(v) ? std::string("nan") : fmt::format("{}", v),
        saved_step >= 0
            ? fmt::format(
                  "the last good checkpoint (step {}) is kept in {}",
                  saved_step,
                  ckpt_path)
            : std::string(
                  "no checkpoint was saved yet; hint: lower train.lr")));
  };
  auto calc_loss_loader = [&](Loader& loader) {
    // The book's calc_loss_loader(num_batches=eval_iter): a fresh pass.
    const auto n = std::min<int64_t>(
        cfg.train.eval_iter, static_cast<int64_t>(loader.num_batches()));
    if (n == 0) return std::nan("");
    auto pass = loader.begin_pass();
    double total = 0;
    for (int64_t i = 0; i < n; ++i) {
      auto b = pass.next();
      if (world == 1) {
        total += lm_loss(model(b->inputs.to(device)), b->targets.to(device))
                     .item<double>();
        continue;
      }
      // This rank's rows' share of the global batch mean.
      const Batch mine = shard(*b, rank, world, cfg.data.batch_size);
      const int64_t rows = mine.inputs.size(0);
      if (rows == 0) continue;
      total += lm_loss(model(mine.inputs.to(device)), mine.targets.to(device))
                   .item<double>() *
               static_cast<double>(rows) /
               static_cast<double>(b->inputs.size(0));
    }
    if (group) total = group->allreduce_sum(total);
    return total / static_cast<double>(n);
  };
  const bool tty = opt.progress && lead;
  auto progress = [&] {
    if (!tty) return;
    const double done = static_cast<double>(step) /
                        static_cast<double>(std::max<int64_t>(total_steps, 1));
    const int width = 30;
    const int fill = static_cast<int>(done * width);
    const int64_t this_session = step - step_at_start;
    const double eta = this_session > 0
                           ? session_s() / static_cast<double>(this_session) *
                                 static_cast<double>(total_steps - step)
                           : NAN;
    fmt::print(
        stdout,
        "\r[{}{}] step {}/{} {:3.0f}% ETA {}\033[K",
        std::string(static_cast<size_t>(fill), '#'),
        std::string(static_cast<size_t>(width - fill), '.'),
        step,
        total_steps,
        100 * done,
        duration(eta));
    std::fflush(stdout);
  };
  // Under torchrun every rank must stop at the same step: the flag is
  // agreed on in each step's all-reduce (stop_agreed).
  bool stop_agreed = false;
  double comm_wait_s = 0;
  auto stop_requested = [&] {
    if (group) return stop_agreed;
    return opt.stop != nullptr && opt.stop->load() != 0;
  };

  TrainResult result;
  // A checkpoint at the end of a pass continues with the next epoch.
  if (position >= num_batches) {
    ++epoch;
    position = 0;
    sampler_seed = -1;
  }
  bool done = cfg.train.max_steps > 0 && step >= cfg.train.max_steps;
  model->train();
  while (!done && epoch < cfg.train.epochs) {
    if (stop_requested()) break;
    Loader::Pass pass = position > 0
                            ? train_loader.resume_pass(
                                  sampler_seed, static_cast<size_t>(position))
                            : train_loader.begin_pass();
    for (;;) {
      if (cfg.train.max_steps > 0 && step >= cfg.train.max_steps) {
        done = true;
        break;
      }
      auto batch = pass.next();
      if (!batch) break;
      optimizer.zero_grad();
      if (group) {
        // Local loss weighted by this rank's share of the global batch, so
        // that the averaged gradient is the global batch mean's gradient.
        const Batch mine = shard(*batch, rank, world, cfg.data.batch_size);
        const int64_t rows = mine.inputs.size(0);
        const double share = static_cast<double>(rows) /
                             static_cast<double>(batch->inputs.size(0));
        double local = 0;
        // Every rank names its ids, even none: the row mask is a collective.
        if (tok_table.defined()) reducer->expect_rows(tok_table, mine.inputs);
        at::Tensor loss;
        if (rows > 0) {
          loss =
              lm_loss(model(mine.inputs.to(device)), mine.targets.to(device));
          local = loss.item<double>() * share;
        }
        // The global loss and the stop flag, agreed on before backward: a
        // non-finite loss stops every rank before any weight changes, as
        // without torchrun (the all-reduce also absorbs the ranks' forward
        // imbalance, so it counts as communication).
        const bool stop_here = opt.stop != nullptr && opt.stop->load() != 0;
        auto agreed = at::empty({2}, at::kDouble);
        agreed.data_ptr<double>()[0] = local;
        agreed.data_ptr<double>()[1] = stop_here ? 1.0 : 0.0;
        const auto agree_start = std::chrono::steady_clock::now();
        group->allreduce_sum(agreed);
        comm_wait_s += std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - agree_start)
                           .count();
        const double loss_value = agreed.data_ptr<double>()[0];
        stop_agreed = agreed.data_ptr<double>()[1] > 0;
        if (!std::isfinite(loss_value)) {
          ++step;
          throw non_finite("training", loss_value);
        }
        if (rows > 0) (loss * (share * world)).backward();
        // Each bucket's parameters are updated as soon as their averaged
        // gradients arrive, while the larger buckets are still on the wire.
        optimizer.begin_step();
        reducer->finish([&](const std::vector<at::Tensor>& reduced) {
          for (const auto& p : reduced) optimizer.update(p);
        });
        comm_wait_s += reducer->last_wait_s();
      } else {
        const auto loss =
            lm_loss(model(batch->inputs.to(device)), batch->targets.to(device));
        const double loss_value = loss.item<double>();
        if (!std::isfinite(loss_value)) {
          ++step;
          throw non_finite("training", loss_value);
        }
        loss.backward();
        optimizer.step();
      }
      tokens_seen += batch->inputs.numel();
      ++step;
      position = static_cast<int64_t>(pass.position());
      sampler_seed = pass.sampler_seed();
      if ((step - 1) % cfg.train.eval_freq == 0) {
        // evaluate_model: eval mode, no grad, then back to training.
        double train_loss = 0;
        double val_loss = 0;
        {
          c10::NoGradGuard no_grad;
          model->eval();
          train_loss = calc_loss_loader(train_loader);
          val_loss = calc_loss_loader(val_loader);
          model->train();
        }
        EvalRecord r;
        r.step = step;
        r.epoch = epoch + 1;
        r.train_loss = train_loss;
        r.val_loss = val_loss;
        r.tokens_seen = tokens_seen;
        r.elapsed_s = elapsed_before + session_s();
        r.tokens_per_s = static_cast<double>(tokens_seen - tokens_at_start) /
                         std::max(session_s(), 1e-9);
        evals.push_back(r);
        write_outputs();
        if (tty) fmt::print(stdout, "\r\033[K");
        fmt::print(
            log,
            "ep {} (step {:06d}): train loss {:.3f}, val loss {:.3f} | tokens "
            "seen {} | {:.0f} tok/s\n",
            r.epoch,
            r.step,
            r.train_loss,
            r.val_loss,
            r.tokens_seen,
            r.tokens_per_s);
        std::fflush(log);
        if (!std::isfinite(train_loss))
          throw non_finite("training (evaluation)", train_loss);
        if (!std::isfinite(val_loss)) throw non_finite("validation", val_loss);
      }
      progress();
      const bool stop = stop_requested();
      if (stop || (cfg.run.checkpoint_every > 0 &&
                   step % cfg.run.checkpoint_every == 0))
        save();
      if (stop) {
        if (tty) fmt::print(stdout, "\r\033[K");
        fmt::print(
            log,
            "interrupted: checkpoint at step {} saved to {}; continue with: "
            "ember train --resume {}\n",
            step,
            ckpt_path,
            cfg.run.dir);
        result.interrupted = true;
        result.step = step;
        result.evals = evals;
        if (group) group->shutdown();
        return result;
      }
    }
    if (done) break;
    ++epoch;
    position = 0;
    sampler_seed = -1;
  }
  if (tty) fmt::print(stdout, "\r\033[K");
  if (stop_requested()) {
    result.interrupted = true;
    if (step != saved_step) save();
  } else if (step != saved_step) {
    save();
  }
  fmt::print(
      log,
      "done: {} steps, {} tokens seen; {:.1f} s, {:.0f} tokens/s this session; "
      "outputs in {}\n",
      step,
      tokens_seen,
      session_s(),
      static_cast<double>(tokens_seen - tokens_at_start) /
          std::max(session_s(), 1e-9),
      cfg.run.dir);
  if (group && step > step_at_start) {
    const double per_step =
        session_s() / static_cast<double>(step - step_at_start);
    const double wait = comm_wait_s / static_cast<double>(step - step_at_start);
    fmt::print(
        log,
        "distributed: gradient all-reduce wait {:.1f} ms/step of {:.1f} "
        "ms/step ({:.1f}%)\n",
        1e3 * wait,
        1e3 * per_step,
        100 * wait / per_step);
    // Where the wait comes from, bucket by bucket (backward fills them in
    // this order).
    const auto stats = reducer->stats();
    for (size_t k = 0; k < stats.buckets.size(); ++k) {
      const auto& b = stats.buckets[k];
      fmt::print(
          log,
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
  result.step = step;
  result.evals = evals;
  if (group) group->shutdown();
  return result;
}

}  // namespace ember

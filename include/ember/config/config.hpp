// Training configuration: the TOML file in configs/ (`ember train --config`),
// overridden by `--set section.key=value`, over the defaults below (the
// book's chapter-5 settings on the-verdict, configs/verdict.toml).
// Mirrors rasbt ch05 GPT_CONFIG_124M / OTHER_SETTINGS and torchtitan's config
// manager (unknown keys are errors with a suggestion). Plain C++17: toml++ is
// used only in src/config/config.cpp and LibTorch not at all, so device and
// module names are checked by run/runtime.hpp (prepare_runtime).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

/// `[data]`: the text and how it is cut into windows and batches.
struct DataConfig {
  /// "text": windows over a text or token file (the book's chapters 2-5);
  /// "instruction": the book's chapter-7 entries {"instruction", "input",
  /// "output"} from a JSON array or JSON Lines file at `path`, split by
  /// entries (train_ratio, test_ratio; validation is the rest), each batch
  /// padded to its longest entry (data/instruction_dataset.hpp);
  /// "classification": the book's chapter-6 labelled texts, CSV or TSV files
  /// train_path, val_path and test_path with a header (text_column,
  /// label_column), for a model with head "classifier"
  /// (data/classification_dataset.hpp).
  std::string format = "text";
  /// A UTF-8 text file or a token file (`ember tokenize --format bin16`,
  /// recognised by its magic bytes); a relative path is looked up in the
  /// current directory, then in the build's data folder (where
  /// scripts/setup.sh puts the-verdict.txt). Split by train_ratio: a text by
  /// characters (the book), a token file by tokens.
  std::string path = "the-verdict.txt";
  /// Separate training and validation files (text or token files, looked up
  /// as `path`); both or neither. When given, they replace `path` and
  /// `train_ratio`. Empty = not given.
  std::string train_path;
  std::string val_path;
  /// format "classification" only: the test file (optional; the final
  /// accuracies include it when given).
  std::string test_path;
  /// format "classification": the header names of the text and label
  /// columns, the field delimiter ("" = by extension: .tsv and .tab are
  /// tab-separated, others comma; "tab" or one character), and the names
  /// of the labels 0..num_classes-1 (optional; `ember classify` prints them).
  std::string text_column = "Text";
  std::string label_column = "Label";
  std::string delimiter;
  std::vector<std::string> label_names;
  /// Share of `path` used for training: of its characters for a text file,
  /// of its tokens for a token file, of its entries for format
  /// "instruction" (where the default is the book's 0.85).
  double train_ratio = 0.9;
  /// format "instruction" only: the share of entries after the training
  /// ones kept for testing (`ember batches --split test`); the book's 0.10.
  double test_ratio = 0.1;
  /// format "instruction" only: the book's exercise 7.2, the targets of
  /// the prompt (instruction and input) become -100 (not learned).
  bool mask_prompt = false;
  /// Window length (text), the longest row kept (instruction), the length
  /// every text is truncated or padded to (classification, where 0, its
  /// default, is the longest training text: the book's max_length=None).
  int64_t max_length = 256;
  int64_t stride = 256;
  int64_t batch_size = 2;
  bool shuffle = true;    ///< train loader only; validation never shuffles
  bool drop_last = true;  ///< train loader only; validation keeps the last
  int64_t num_workers = 0;
};

/// `[model]`: GPTModel's shape (the book's cfg dict).
struct ModelConfig {
  /// "" or gpt2-small | gpt2-medium | gpt2-large | gpt2-xl: sets the keys
  /// below that the file and --set leave unset (model_presets()).
  std::string preset;
  int64_t vocab_size = 50257;
  int64_t context_length = 256;
  int64_t emb_dim = 256;
  int64_t n_layers = 0;  ///< transformer blocks
  int64_t n_heads = 4;   ///< attention heads; must divide emb_dim
  double drop_rate = 0.1;
  bool qkv_bias = false;
  bool tie_weights = false;
  std::string pos_encoding = "learned";  ///< names in nn/registry.hpp
  std::string norm = "layernorm";
  std::string attention = "multihead";
  std::string feed_forward = "gelu";
  /// "lm": out_head = Linear(emb_dim, vocab_size, bias=false), the next
  /// token's logits; "classifier": the book's chapter-6 head,
  /// Linear(emb_dim, num_classes) with bias, read at the last token.
  std::string head = "lm";
  int64_t num_classes = 2;  ///< head "classifier" only
  /// The head's product computes vocab_size rounded up to a multiple of
  /// this (GPTModelOptions::vocab_pad_to); 1 = no padding; head "lm" only.
  int64_t vocab_pad_to = 1;
};

/// Throws ConfigError "WHERE: token id ID is outside the model's vocabulary
/// (vocab_size V)" unless 0 <= id < m.vocab_size (ids from the user: --ids,
/// a prompt's tokens, train.sample_prompt).
void check_token_id(int64_t id, const ModelConfig& m, const std::string& where);

/// One of the book's model_configs (ch05): GPT-2's four sizes.
struct ModelPreset {
  const char* name;
  int64_t emb_dim;
  int64_t n_layers;
  int64_t n_heads;
};

/// gpt2-small (768, 12, 12), gpt2-medium (1024, 24, 16), gpt2-large
/// (1280, 36, 20), gpt2-xl (1600, 48, 25); each with vocab_size 50257 and
/// context_length 1024.
const std::vector<ModelPreset>& model_presets();

/// `[train]`, the optimizer's keys: AdamW and what shapes its steps.
struct OptimizerConfig {
  double lr = 4e-4;
  double weight_decay = 0.1;
  /// Clip the global gradient norm to this (clip_grad_norm_); 0 = off.
  double grad_clip = 0.0;
  /// Clip only from the first step after the warmup (the book's corrected
  /// `global_step >= warmup_steps`); false = from the first step.
  bool grad_clip_after_warmup = true;
  /// Micro-batches whose gradients one optimizer step sums (each loss
  /// divided by their number).
  int64_t grad_accum_steps = 1;
};

/// `[train]`, the schedule's keys: how long the run is and its learning
/// rate at each optimizer step (the book's appendix D; train/lr_schedule.hpp).
struct ScheduleConfig {
  int64_t epochs = 10;
  int64_t max_steps = 0;  ///< optimizer steps; 0 = no limit
  /// "constant" = train.lr after the warmup; "cosine" = cosine decay from
  /// train.lr to min_lr over the steps after the warmup.
  std::string lr_schedule = "constant";
  /// Linear warmup from initial_lr to train.lr over this many optimizer
  /// steps; or over int(warmup_ratio * total steps). At most one is > 0.
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;
  double initial_lr = 3e-5;  ///< the book's train_model default
  double min_lr = 1e-6;      ///< the book's train_model default
};

/// `[train]`, the evaluation's keys (the book's evaluate_model and
/// generate_and_print_sample).
struct EvalConfig {
  int64_t eval_freq = 5;
  int64_t eval_iter = 5;
  /// After each epoch, greedy continuation of this text; "" = none.
  std::string sample_prompt;
  int64_t sample_tokens = 50;  ///< new tokens per sample
};

/// train.precision's values, in the order of ember::Precision
/// (nn/precision.hpp reads them too).
inline constexpr std::array<std::string_view, 2> kPrecisionNames{
    "fp32", "bf16"};

/// `[train]`, where the run runs: device, threads and distribution
/// (resolved and checked by run/runtime.hpp).
struct RuntimeConfig {
  std::string device = "auto";  ///< auto | cpu | cuda | cuda:N
  int64_t threads = 0;          ///< 0 = all cores
  /// fp32 | bf16: autocast's bf16 matrix products (nn/precision.hpp). A
  /// run resumes only in the precision it started in.
  std::string precision = "fp32";
  /// CUDA only: fp32 matrix products and convolutions on TF32 tensor cores
  /// (10-bit mantissa inputs, fp32 accumulation; the book's bonus
  /// 01_opt_single_gpu.py's torch.set_float32_matmul_precision("high")).
  /// false = full fp32, cuBLAS's default in PyTorch (for parity against the
  /// CPU).
  bool tf32 = true;
  /// Distributed runs only (started by torchrun): auto | gloo | nccl.
  /// auto = nccl on CUDA, gloo on CPU.
  std::string backend = "auto";
  /// Distributed runs only: how long a collective waits for the other
  /// ranks before the run fails with an error instead of hanging.
  int64_t dist_timeout_s = 120;
  /// Distributed runs only: all-reduce only the rows of the token-embedding
  /// gradient that some rank's batch looked up (the others are zero), instead
  /// of the whole (V, D) table. Ignored with model.tie_weights (the output
  /// head makes every row non-zero). Same result on 2 ranks, bit for bit.
  bool dist_sparse_embedding = true;
};

/// `[train]`, fine-tuning's keys: which parameters train, and adapters
/// (the book's chapter 6 and appendix E; run/finetune.hpp).
struct FinetuneConfig {
  /// "" = by the head: "last_block" for a classifier, "all" otherwise;
  /// "all"; "last_block" (out_head, the last transformer block and
  /// final_norm, the book's chapter 6); "head" (out_head only). Ignored
  /// (must be "") with an adapter: then only the adapter trains.
  std::string trainable;
  /// The adapter put beside each targeted Linear when lora_rank > 0: a name
  /// registered in nn/adapter.hpp ("lora": the book's appendix-E LoRA).
  std::string adapter = "lora";
  int64_t lora_rank = 0;  ///< 0 = no adapter
  double lora_alpha = 16.0;
  /// The Linear layers that get an adapter: [] = all; else names among
  /// "attention", "feed_forward", "out_head", "W_query", "W_key",
  /// "W_value", "out_proj".
  std::vector<std::string> lora_targets;
  /// With the leading blocks frozen ("last_block", "head") and drop_rate 0:
  /// memory for their outputs, kept per text and reused by every later
  /// epoch and accuracy pass (nn/prefix_cache.hpp); 0 = keep none.
  int64_t frozen_cache_mb = 1024;
};

/// `[train]`: the loop (rasbt ch05 train_model_simple, appendix D's
/// train_model) in four parts; the TOML keys are flat (`train.lr`,
/// `train.eval_freq`, ...), each belongs to one part.
struct TrainConfig {
  int64_t seed = 123;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  EvalConfig eval;
  RuntimeConfig runtime;
  FinetuneConfig finetune;
};

/// `[run]`: where outputs go.
struct RunConfig {
  std::string dir = "runs/verdict";
  int64_t checkpoint_every = 0;  ///< optimizer steps; 0 = only at the end
};

struct Config {
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
  RunConfig run;
};

/// Parses TOML text (`source` names it in messages, e.g. the file path),
/// applies `overrides` ("section.key=value", later ones win), validates and
/// returns the config. The data file is not looked up here (see
/// resolve_data_path). Throws ConfigError with one line:
///   "cfg.toml:3:1: unknown key 'data.batchsize'; hint: did you mean
///    'data.batch_size'?"
Config parse_config(
    std::string_view toml,
    std::string_view source,
    const std::vector<std::string>& overrides = {});

/// Reads `path` (ConfigError if missing) and calls parse_config, then
/// resolve_data_path: the returned config's data.path (or data.train_path
/// and data.val_path, when given) is the file found.
Config load_config(
    const std::string& path, const std::vector<std::string>& overrides = {});

/// Finds data.path: as given when absolute or present relative to the
/// current directory, else under `data_dir` (default: the build's data
/// folder). Throws ConfigError "data.path: no such file 'x' (looked in ...)";
/// `key` names the key in messages (data.path, data.train_path, ...).
std::string resolve_data_path(
    const std::string& path,
    const std::string& data_dir = "",
    std::string_view key = "data.path");

/// The config as TOML, every key, in the documented order; parse_config of
/// the result gives back the same config.
std::string to_toml(const Config& config);

/// The names of the keys whose values differ between `a` and `b`
/// ("model.emb_dim", ...), in the documented order.
std::vector<std::string> differing_keys(const Config& a, const Config& b);

/// Every valid "section.key", in the documented order.
const std::vector<std::string>& config_keys();

}  // namespace ember

// `ember batches` and `ember embed` (issue 3 section 4): thin shells over
// GptDataset/Loader (or a config's run data, run_data.hpp) and GPTEmbedding
// that print JSON with Python json.dumps'
// default separators (", " and ": "), floats in the shortest text that reads
// back as the same float32.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "app.hpp"
#include "json_out.hpp"
#include <ATen/ops/tensor.h>
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/nn/modules/embedding.h>
#include <torch/utils.h>

#include <ember/config/config.hpp>
#include <ember/data/gpt_dataset.hpp>
#include <ember/data/loader.hpp>
#include <ember/data/run_data.hpp>
#include <ember/nn/gpt_embedding.hpp>
#include <ember/run/run_model.hpp>
#include <ember/run/runtime.hpp>
#include <ember/text/token_file.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>
#include <ember/util/memory_budget.hpp>

namespace ember::cli {
namespace {

struct BatchesArgs {
  std::string config;  // --config: a run's data instead of --input
  std::vector<std::string> sets;
  std::string split = "train";
  std::string input;
  int64_t batch_size = 0;
  int64_t max_length = 0;
  int64_t stride = 0;
  bool shuffle = false;
  uint64_t seed = 123;
  bool no_drop_last = false;
  std::optional<int64_t> limit;
  int64_t num_workers = 0;
};

// A token file (recognised by its magic) is memory-mapped and served window
// by window; a text is read and tokenized in memory, after checking that it
// fits (else the error says to tokenize it first).
GptDataset open_dataset(const BatchesArgs& a) {
  if (is_token_file(a.input)) {
    return GptDataset::from_token_file(a.input, a.max_length, a.stride);
  }
  check_text_fits_memory(a.input, "batches: --input");
  const std::string text = read_file(a.input);
  if (text.empty()) {
    throw Error(fmt::format(
        "batches: {}: the file is empty (expected UTF-8 text of at least "
        "max_length + 1 = {} tokens)",
        a.input,
        a.max_length + 1));
  }
  // Every message names the file: the dataset's own do not know it.
  try {
    return GptDataset::from_text(
        text, Tokenizer::gpt2(), a.max_length, a.stride);
  } catch (const Utf8Error& e) {
    throw Utf8Error(
        fmt::format(
            "batches: {}: invalid utf-8 at byte {}; hint: the input must be "
            "UTF-8 text",
            a.input,
            e.offset()),
        e.offset());
  } catch (const c10::Error& e) {
    throw Error(fmt::format("batches: {}: {}", a.input, e.msg()));
  }
}

void print_batches(Loader::Pass& pass, std::optional<int64_t> limit) {
  fmt::memory_buffer buf;
  for (int64_t k = 0; !limit || k < *limit; ++k) {
    const std::optional<Batch> batch = pass.next();
    if (!batch) break;
    buf.clear();
    fmt::format_to(std::back_inserter(buf), "{{\"inputs\": ");
    append_nested<int64_t>(buf, batch->inputs);
    fmt::format_to(std::back_inserter(buf), ", \"targets\": ");
    append_nested<int64_t>(buf, batch->targets);
    fmt::format_to(std::back_inserter(buf), "}}\n");
    write_out(buf);
  }
  std::fflush(stdout);
}

// --config: the run's loaders as `ember train` builds them (one process),
// with the draws before its first epoch, so the train split prints the
// first epoch's batches in training order.
void run_config_batches(const BatchesArgs& a) {
  for (const auto& [flag, given, key] :
       {std::tuple{"--batch-size", a.batch_size != 0, "batch_size"},
        std::tuple{"--max-length", a.max_length != 0, "max_length"},
        std::tuple{"--stride", a.stride != 0, "stride"},
        std::tuple{"--shuffle", a.shuffle, "shuffle"},
        std::tuple{"--no-drop-last", a.no_drop_last, "drop_last"}}) {
    if (given) {
      throw ConfigError(fmt::format(
          "batches: {} is taken from the config with --config; hint: --set "
          "data.{}=...",
          flag,
          key));
    }
  }
  const Config cfg = load_config(a.config, a.sets);
  torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));
  RunDataOptions options;
  options.vocab_size = cfg.model.vocab_size;
  options.threads =
      static_cast<unsigned>(resolve_threads(cfg.train.runtime.threads));
  options.global_batch = cfg.data.batch_size;
  std::FILE* quiet = std::fopen("/dev/null", "w");
  RunData data = prepare_run_data(cfg.data, options, quiet ? quiet : stderr);
  if (quiet != nullptr) std::fclose(quiet);
  Loader* loader = &data.train;
  if (a.split == "val") loader = &data.val;
  if (a.split == "test") {
    if (!data.test) {
      throw ConfigError(fmt::format(
          "batches: --split test needs data.format = \"instruction\" (got "
          "format '{}', which has a training and a validation part only)",
          cfg.data.format));
    }
    loader = &*data.test;
  }
  // The draws between the data and the first epoch (run_gpt's order): the
  // text format's seeded model; the instruction format reseeds after its
  // model, so its model's draws do not matter and it is not built.
  if (a.split == "train" && cfg.data.format == "text") run_gpt(cfg);
  if (a.split == "train" && cfg.data.format != "text") {
    torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));
  }
  Loader::Pass pass = loader->begin_pass();
  print_batches(pass, a.limit);
}

void run_batches(const BatchesArgs& a) {
  if (!a.config.empty()) {
    run_config_batches(a);
    return;
  }
  for (const auto& [flag, value] :
       {std::pair{"--batch-size", a.batch_size},
        std::pair{"--max-length", a.max_length},
        std::pair{"--stride", a.stride}}) {
    if (a.input.empty() || value == 0) {
      throw ConfigError(fmt::format(
          "batches: {} is required; hint: give --input, --batch-size, "
          "--max-length and --stride, or --config for a run's data",
          a.input.empty() ? "--input" : flag));
    }
  }
  GptDataset dataset = open_dataset(a);
  // The book: torch.manual_seed(123) before create_dataloader_v1.
  torch::manual_seed(a.seed);
  LoaderOptions options;
  options.batch_size = a.batch_size;
  options.shuffle = a.shuffle;
  options.drop_last = !a.no_drop_last;
  options.num_workers = a.num_workers;
  Loader loader(std::move(dataset), options);
  Loader::Pass pass = loader.begin_pass();
  print_batches(pass, a.limit);
}

struct EmbedArgs {
  int64_t vocab_size = 0;
  int64_t dim = 0;
  std::optional<int64_t> context_length;
  uint64_t seed = 123;
  std::vector<int64_t> ids;
};

void run_embed(const EmbedArgs& a) {
  for (size_t i = 0; i < a.ids.size(); ++i) {
    if (a.ids[i] < 0 || a.ids[i] >= a.vocab_size) {
      throw ConfigError(fmt::format(
          "embed: --ids: token id out of range at index {} (got {}, expected "
          "0 <= id < {})",
          i,
          a.ids[i],
          a.vocab_size));
    }
  }
  if (a.context_length &&
      static_cast<int64_t>(a.ids.size()) > *a.context_length) {
    throw ConfigError(fmt::format(
        "embed: --ids: more ids than --context-length (got {}, expected <= "
        "{})",
        a.ids.size(),
        *a.context_length));
  }
  torch::NoGradGuard no_grad;
  torch::manual_seed(a.seed);
  // The token embedding is built first either way, so its weights do not
  // depend on --context-length.
  torch::nn::Embedding tok_emb{nullptr};
  std::optional<GPTEmbedding> gpt;
  if (a.context_length) {
    gpt.emplace(GPTEmbeddingOptions(a.vocab_size, *a.context_length, a.dim));
    tok_emb = (*gpt)->tok_emb;
  } else {
    tok_emb = torch::nn::Embedding(a.vocab_size, a.dim);
  }
  const torch::Tensor ids =
      at::tensor(a.ids, at::TensorOptions().dtype(at::kLong));
  // (N,) -> (N, D)
  const torch::Tensor output = tok_emb(ids);
  fmt::memory_buffer buf;
  fmt::format_to(std::back_inserter(buf), "{{\"weight\": ");
  append_nested<float>(buf, tok_emb->weight);
  fmt::format_to(std::back_inserter(buf), ", \"output\": ");
  append_nested<float>(buf, output);
  if (gpt) {
    fmt::format_to(std::back_inserter(buf), ", \"pos_weight\": ");
    append_nested<float>(buf, (*gpt)->pos_emb->weight);
    // (1, N) -> (1, N, D) -> (N, D)
    fmt::format_to(std::back_inserter(buf), ", \"input_embeddings\": ");
    append_nested<float>(buf, (*gpt)->forward(ids.unsqueeze(0))[0]);
  }
  fmt::format_to(std::back_inserter(buf), "}}\n");
  write_out(buf);
  std::fflush(stdout);
}

}  // namespace

void add_data_commands(CLI::App& app) {
  auto batches_args = std::make_shared<BatchesArgs>();
  CLI::App* batches =
      app.add_subcommand("batches", torch_command_summary("batches"));
  batches
      ->add_option(
          "--config",
          batches_args->config,
          "a run's config: its data.format's batches, in the order `ember "
          "train` sees them in its first epoch (instead of --input ...)")
      ->excludes(batches->add_option(
          "--input",
          batches_args->input,
          "UTF-8 text file, or a token file (ember tokenize --format bin16)"));
  batches->add_option(
      "--set", batches_args->sets, "override a config key: section.key=value");
  batches
      ->add_option(
          "--split", batches_args->split, "with --config: train, val or test")
      ->capture_default_str()
      ->check(CLI::IsMember({"train", "val", "test"}));
  batches
      ->add_option("--batch-size", batches_args->batch_size, "rows per batch")
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  batches
      ->add_option(
          "--max-length", batches_args->max_length, "tokens per window")
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  batches
      ->add_option(
          "--stride", batches_args->stride, "tokens between window starts")
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  batches->add_flag(
      "--shuffle",
      batches_args->shuffle,
      "PyTorch DataLoader(shuffle=True) order after torch.manual_seed(seed)");
  batches->add_option("--seed", batches_args->seed, "torch.manual_seed value")
      ->capture_default_str();
  batches->add_flag(
      "--no-drop-last",
      batches_args->no_drop_last,
      "keep the last batch when it is short");
  batches->add_option("--limit", batches_args->limit, "print at most K batches")
      ->check(CLI::Range(int64_t{0}, INT64_MAX));
  batches
      ->add_option(
          "--num-workers",
          batches_args->num_workers,
          "prefetching threads (same batches for any value)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{256}));
  batches->callback([batches_args] { run_batches(*batches_args); });

  auto embed_args = std::make_shared<EmbedArgs>();
  CLI::App* embed = app.add_subcommand("embed", torch_command_summary("embed"));
  embed->add_option("--vocab-size", embed_args->vocab_size, "rows (V)")
      ->required()
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  embed->add_option("--dim", embed_args->dim, "columns (D)")
      ->required()
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  embed
      ->add_option(
          "--context-length",
          embed_args->context_length,
          "also build the positional Embedding(C, D) after it and print "
          "pos_weight and input_embeddings")
      ->check(CLI::Range(int64_t{1}, INT64_MAX));
  embed->add_option("--seed", embed_args->seed, "torch.manual_seed value")
      ->capture_default_str();
  embed
      ->add_option(
          "--ids", embed_args->ids, "comma-separated ids, e.g. 2,3,5,1")
      ->delimiter(',');
  embed->callback([embed_args] { run_embed(*embed_args); });
}

}  // namespace ember::cli

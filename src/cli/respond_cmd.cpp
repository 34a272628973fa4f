// `ember respond`: the book's section 7.7 as a command. For each entry of a
// split of the run's instruction file (the test split by default), greedy
// (or sampled) generation from format_input(entry) with <|endoftext|> as
// the end, the response extracted as the book does (generate/respond.hpp),
// and the entries with "model_response" written as the book's
// instruction-data-with-response.json.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "model_source.hpp"
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <torch/utils.h>
#include <unistd.h>

#include <ember/config/config.hpp>
#include <ember/data/instruction_data.hpp>
#include <ember/generate/respond.hpp>
#include <ember/train/progress.hpp>
#include <ember/util/atomic_file.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember::cli {
namespace {

constexpr int64_t kEndOfText = 50256;

struct RespondArgs {
  ModelSource source;
  std::string split = "test";
  int64_t limit = -1;  // all
  int64_t max_new_tokens = 256;
  SamplingArgs sampling;
  std::string out;
};

// The entries [begin, begin + count) of the split, from the instruction
// file of the model's config (the run's own data.path with --run).
struct SplitRange {
  size_t begin = 0;
  size_t count = 0;
};

SplitRange split_range(
    const DataConfig& data, size_t n, const std::string& split) {
  const auto s = split_instruction_data(n, data.train_ratio, data.test_ratio);
  if (split == "train") return {0, s.train};
  if (split == "test") return {s.train, s.test};
  return {s.train + s.test, s.val};
}

std::string output_path(const RespondArgs& args) {
  if (!args.out.empty()) return args.out;
  const std::string name = "instruction-data-with-response.json";
  return args.source.run.empty() ? name : args.source.run + "/" + name;
}

void check_respond_args(const RespondArgs& args, const Config& config) {
  if (config.data.format != "instruction") {
    throw ConfigError(fmt::format(
        "respond: the model's config has data.format = \"{}\"; respond "
        "answers the entries of an instruction file (data.format = "
        "\"instruction\", the book's chapter 7); hint: use ember generate "
        "--prompt for text",
        config.data.format));
  }
  check_sampling(args.sampling);
  if (args.max_new_tokens < 0) {
    throw ConfigError(fmt::format(
        "--max-new-tokens: out of range (got {}, expected >= 0)",
        args.max_new_tokens));
  }
}

void run_respond(const RespondArgs& args) {
  TrainedModel trained = load_model(args.source);
  const Config& config = trained.config;
  check_respond_args(args, config);
  const std::string path = resolve_data_path(config.data.path);
  const std::string text = read_file(path);
  const auto entries = parse_instruction_data(text, path);
  SplitRange range = split_range(config.data, entries.size(), args.split);
  if (range.count == 0) {
    throw ConfigError(fmt::format(
        "respond: the {} split of {} is empty ({} entries, data.train_ratio "
        "{}, data.test_ratio {})",
        args.split,
        path,
        entries.size(),
        config.data.train_ratio,
        config.data.test_ratio));
  }
  if (args.limit >= 0 && static_cast<size_t>(args.limit) < range.count)
    range.count = static_cast<size_t>(args.limit);

  GenerateOptions gen;
  gen.max_new_tokens = args.max_new_tokens;
  gen.context_size = config.model.context_length;
  gen.temperature = args.sampling.temperature;
  gen.top_k = args.sampling.top_k;
  gen.eos_id = kEndOfText;
  const Tokenizer tokenizer = Tokenizer::gpt2();
  torch::manual_seed(static_cast<uint64_t>(args.sampling.seed));
  const ProgressBar bar(::isatty(STDERR_FILENO) != 0, stderr);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> responses;
  for (size_t i = 0; i < range.count; ++i) {
    responses.push_back(
        respond(trained.model, tokenizer, entries[range.begin + i], gen));
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    bar.draw(
        static_cast<int64_t>(i + 1),
        static_cast<int64_t>(range.count),
        static_cast<int64_t>(i + 1),
        s);
  }
  bar.clear();
  const std::string out = output_path(args);
  write_file_atomic(out, with_responses_json(text, range.begin, responses));
  fmt::print(
      stderr,
      "respond: wrote {} ({} {} entries, from entry {} of {})\n",
      out,
      range.count,
      args.split,
      range.begin,
      path);
}

}  // namespace

void add_respond_command(CLI::App& app) {
  auto args = std::make_shared<RespondArgs>();
  auto* cmd = app.add_subcommand("respond", torch_command_summary("respond"));
  add_source_options(cmd, args->source, false);
  cmd->add_option("--split", args->split, "test (default), val or train")
      ->check(CLI::IsMember({"train", "val", "test"}));
  cmd->add_option("--limit", args->limit, "Answer the first N entries only")
      ->check(CLI::Range(int64_t{0}, INT64_MAX));
  cmd->add_option(
      "--max-new-tokens",
      args->max_new_tokens,
      "Tokens to generate per entry (default 256, the book's)");
  add_sampling_options(cmd, args->sampling);
  cmd->add_option(
      "--out",
      args->out,
      "File to write (default: instruction-data-with-response.json in the "
      "run folder with --run, else in the current directory)");
  cmd->callback([args] { run_respond(*args); });
}

}  // namespace ember::cli

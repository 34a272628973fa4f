// `ember forward` and `ember generate`: look inside a model and continue
// text with it. The model is a run's (--run DIR: its checkpoint and config)
// or a fresh one built exactly as `ember train` builds it
// (torch::manual_seed(train.seed), then GPTModel) from --config/--set, so
// the numbers can be compared with PyTorch's book model under the same seed.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app.hpp"
#include "json_out.hpp"
#include "model_source.hpp"
#include <ATen/Parallel.h>
#include <ATen/ops/tensor.h>
#include <CLI/CLI.hpp>
#include <c10/core/GradMode.h>
#include <fmt/core.h>
#include <torch/utils.h>

#include <ember/checkpoint/weights.hpp>
#include <ember/config/config.hpp>
#include <ember/generate/generate.hpp>
#include <ember/nn/adapter.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/run/finetune.hpp>
#include <ember/run/run_model.hpp>
#include <ember/run/runtime.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember::cli {
namespace {

// "6109 3626, 6100" -> {6109, 3626, 6100}; `row` (1-based) names it.
std::vector<int64_t> parse_row(const std::string& text, size_t row) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ' || text[i] == ',' || text[i] == '\t') {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    const std::string token = text.substr(i, std::max(end, i + 1) - i);
    if (end == i || end - i > 9) {
      throw ConfigError(fmt::format(
          "--ids (row {}): '{}' at character {} is not a token id (expected "
          "ids 0 to 999999999 separated by spaces or commas)",
          row,
          token,
          i + 1));
    }
    out.push_back(std::stoll(text.substr(i, end - i)));
    i = end;
  }
  return out;
}

// The --ids rows as a (B, T) int64 tensor, checked against the model.
at::Tensor id_rows(const std::vector<std::string>& rows, const ModelConfig& m) {
  if (rows.empty()) throw ConfigError("--ids: give at least one row of ids");
  std::vector<int64_t> flat;
  size_t width = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto ids = parse_row(rows[r], r + 1);
    if (ids.empty())
      throw ConfigError(fmt::format("--ids (row {}): no ids", r + 1));
    if (r == 0) width = ids.size();
    if (ids.size() != width) {
      throw ConfigError(fmt::format(
          "--ids: rows have different lengths (row 1 has {} ids, row {} has "
          "{})",
          width,
          r + 1,
          ids.size()));
    }
    const std::string where = fmt::format("--ids (row {})", r + 1);
    for (const auto id : ids) check_token_id(id, m, where);
    flat.insert(flat.end(), ids.begin(), ids.end());
  }
  if (static_cast<int64_t>(width) > m.context_length) {
    throw ConfigError(fmt::format(
        "--ids: {} ids per row exceed model.context_length {}",
        width,
        m.context_length));
  }
  return at::tensor(flat, at::kLong)
      .view({static_cast<int64_t>(rows.size()), static_cast<int64_t>(width)});
}

struct ForwardArgs {
  ModelSource source;
  std::vector<std::string> dump;
  bool train_mode = false;
};

void run_forward(const ForwardArgs& args) {
  TrainedModel trained = load_model(args.source);
  auto& model = trained.model;
  const auto ids = id_rows(args.source.ids, trained.config.model);
  Activations acts;
  const auto points = model->dump_points();
  for (const auto& name : args.dump) {
    if (std::find(points.begin(), points.end(), name) == points.end()) {
      throw ConfigError(fmt::format(
          "--dump: no module named '{}' (expected one of: {})",
          name,
          fmt::join(points, ", ")));
    }
    acts.wanted.insert(name);
  }
  // The book's chapter-4 printout runs the fresh model in train mode, so
  // dropout draws right after the weights (--train-mode reproduces it).
  model->train(args.train_mode);
  c10::NoGradGuard no_grad;
  const auto logits = model->forward_with(ids, acts);
  const auto count = count_parameters(*model);
  fmt::memory_buffer buf;
  fmt::format_to(
      std::back_inserter(buf),
      "{{\"num_parameters\": {}, \"num_trainable_parameters\": {}, "
      "\"precision\": \"{}\", \"shape\": [{}], \"logits\": ",
      count.total,
      count.trainable,
      precision_name(model->precision()),
      fmt::join(logits.sizes(), ", "));
  append_nested<float>(buf, logits);
  if (!args.dump.empty()) {
    buf.append(std::string_view(", \"activations\": {"));
    for (size_t i = 0; i < args.dump.size(); ++i) {
      if (i > 0) buf.append(std::string_view(", "));
      append_string(buf, args.dump[i]);
      buf.append(std::string_view(": "));
      append_nested<float>(buf, acts.got.at(args.dump[i]));
    }
    buf.push_back('}');
  }
  buf.append(std::string_view("}\n"));
  write_out(buf);
}

struct GenerateArgs {
  ModelSource source;
  std::string prompt;
  int64_t max_new_tokens = 50;
  SamplingArgs sampling;
  int64_t eos_id = -1;  // none
  bool no_kv_cache = false;
  bool stats = false;
  std::string format = "text";
};

void check_generate_args(const GenerateArgs& args) {
  check_sampling(args.sampling);
  if (args.max_new_tokens < 0) {
    throw ConfigError(fmt::format(
        "--max-new-tokens: out of range (got {}, expected >= 0)",
        args.max_new_tokens));
  }
  if (args.eos_id < -1) {
    throw ConfigError(fmt::format(
        "--eos-id: out of range (got {}, expected a token id >= 0)",
        args.eos_id));
  }
  if (args.prompt.empty() == args.source.ids.empty()) {
    throw ConfigError("generate: give either --prompt or --ids (one of them)");
  }
  if (args.source.ids.size() > 1)
    throw ConfigError("--ids: generate continues one row (got several)");
}

// The prompt's ids, (1, T).
at::Tensor prompt_ids(
    const GenerateArgs& args,
    const Tokenizer& tokenizer,
    const ModelConfig& m) {
  if (!args.source.ids.empty()) return id_rows(args.source.ids, m);
  const auto ids =
      tokenizer.encode(args.prompt, AllowedSpecial({"<|endoftext|>"}));
  if (ids.empty())
    throw ConfigError("--prompt: empty prompt (expected at least one token)");
  for (const auto id : ids)
    check_token_id(static_cast<int64_t>(id), m, "--prompt");
  return id_batch(ids);
}

// One line on stderr: how many tokens the loop made and how fast.
void print_generate_stats(
    GPTModel& model,
    const at::Tensor& prompt,
    const at::Tensor& out,
    const GenerateOptions& gen,
    std::chrono::steady_clock::time_point start) {
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  const int64_t made = out.size(1) - prompt.size(1);
  const bool cached = gen.kv_cache && model->supports_kv_cache();
  fmt::print(
      stderr,
      "generate: {} new tokens after a {}-token prompt in {:.3f} s, {:.1f} "
      "tokens/s ({}, threads {})\n",
      made,
      prompt.size(1),
      s,
      s > 0 ? static_cast<double>(made) / s : 0.0,
      cached ? "KV cache" : "no KV cache",
      at::get_num_threads());
}

void run_generate(const GenerateArgs& args) {
  check_generate_args(args);
  TrainedModel trained = load_model(args.source);
  const Tokenizer tokenizer = Tokenizer::gpt2();
  const auto idx = prompt_ids(args, tokenizer, trained.config.model);
  torch::manual_seed(static_cast<uint64_t>(args.sampling.seed));
  GenerateOptions gen;
  gen.max_new_tokens = args.max_new_tokens;
  gen.context_size = trained.config.model.context_length;
  gen.temperature = args.sampling.temperature;
  gen.top_k = args.sampling.top_k;
  if (args.eos_id >= 0) gen.eos_id = args.eos_id;
  gen.kv_cache = !args.no_kv_cache;
  const auto start = std::chrono::steady_clock::now();
  const auto out = generate(trained.model, idx, gen);
  if (args.stats) print_generate_stats(trained.model, idx, out, gen, start);
  if (args.format == "json") {
    const auto all = row_ids(out[0]);
    fmt::memory_buffer buf;
    fmt::format_to(
        std::back_inserter(buf),
        "{{\"ids\": [{}], \"text\": ",
        fmt::join(all, ", "));
    append_string(buf, tokenizer.decode(all));
    buf.append(std::string_view("}\n"));
    write_out(buf);
    return;
  }
  fmt::print("{}\n", tokenizer.decode(row_ids(out[0], idx.size(1))));
}

struct ExportArgs {
  ModelSource source;
  std::string out;
  std::string format = "pth";
  bool lora_only = false;
};

// A model with adapters exports merged (a plain GPTModel any GPT-2 tool
// loads) or, with --lora-only, its adapters alone.
void run_export(const ExportArgs& args) {
  // Export computes nothing: the weights are written as they are, whatever
  // precision the run trained in (and on a CPU that could not train it).
  ModelSource source = args.source;
  source.precision = "fp32";
  TrainedModel trained = load_model(source);
  auto& model = *trained.model;
  const bool adapters = has_adapters(model);
  if (args.lora_only && !adapters) {
    throw ConfigError(
        "--lora-only: the model has no adapter (train.lora_rank is 0)");
  }
  if (args.lora_only && args.format == "hf-safetensors") {
    throw ConfigError(
        "--lora-only: an adapter has no Hugging Face GPT-2 layout; hint: "
        "use --format pth or safetensors");
  }
  const StateDict sd = args.lora_only ? adapter_state(model)
                                      : (adapters ? merged_state(model)
                                                  : torch_state_dict(model));
  write_weights(sd, args.out, args.format);
  fmt::print(
      stderr,
      "wrote {} ({}{})\n",
      args.out,
      args.format,
      args.lora_only ? ", the adapter alone"
                     : (adapters ? ", adapters merged" : ""));
}

void add_export_command(CLI::App& app) {
  auto ex = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", torch_command_summary("export"));
  add_source_options(cmd, ex->source, /*ids=*/false, /*precision=*/false);
  cmd->add_option("--out", ex->out, "File to write (atomically)")->required();
  cmd->add_option(
         "--format",
         ex->format,
         "pth (default: torch.save(model.state_dict()) of the book's "
         "GPTModel), safetensors (the same keys) or hf-safetensors (Hugging "
         "Face's GPT-2 layout; needs qkv_bias and tied weights)")
      ->check(CLI::IsMember({"pth", "safetensors", "hf-safetensors"}));
  cmd->add_flag(
      "--lora-only",
      ex->lora_only,
      "Write only the adapters (the book's ...W_query.lora.A / .lora.B "
      "keys) instead of the merged model (W + (alpha/rank) (A B)^T)");
  cmd->callback([ex] { run_export(*ex); });
}

}  // namespace

void add_model_commands(CLI::App& app) {
  add_export_command(app);
  auto fwd = std::make_shared<ForwardArgs>();
  auto* fwd_cmd =
      app.add_subcommand("forward", torch_command_summary("forward"));
  add_source_options(fwd_cmd, fwd->source);
  fwd_cmd
      ->add_option(
          "--dump",
          fwd->dump,
          "Also print this module's output, e.g. trf_blocks.0.att or "
          "final_norm (repeatable)")
      ->allow_extra_args(false);
  fwd_cmd->add_flag(
      "--train-mode",
      fwd->train_mode,
      "Dropout on, as the book's chapter-4 printout of a fresh model (default "
      "eval mode)");
  fwd_cmd->callback([fwd] { run_forward(*fwd); });

  auto gen = std::make_shared<GenerateArgs>();
  auto* gen_cmd =
      app.add_subcommand("generate", torch_command_summary("generate"));
  add_source_options(gen_cmd, gen->source);
  gen_cmd->add_option("--prompt", gen->prompt, "Text to continue");
  gen_cmd->add_option(
      "--max-new-tokens",
      gen->max_new_tokens,
      "Tokens to generate (default 50)");
  add_sampling_options(gen_cmd, gen->sampling);
  gen_cmd->add_option(
      "--eos-id",
      gen->eos_id,
      "Stop before this id, e.g. 50256 (<|endoftext|>); default: never");
  gen_cmd->add_flag(
      "--no-kv-cache",
      gen->no_kv_cache,
      "Run the whole sequence through the model each step, as the book's "
      "generate (same ids, slower)");
  gen_cmd->add_flag(
      "--stats",
      gen->stats,
      "Print the generation loop's time and tokens/s on stderr");
  gen_cmd
      ->add_option(
          "--format",
          gen->format,
          "text (the new text, default) or json ({\"ids\": prompt and new "
          "ids, \"text\": their decoding})")
      ->check(CLI::IsMember({"text", "json"}));
  gen_cmd->callback([gen] { run_generate(*gen); });
}

}  // namespace ember::cli

// The config's checks after parsing (config_fields.hpp): the GPT-2 presets
// and the data format's defaults filled in where the file and --set leave
// keys unset, then the checks that involve more than one key or a string's
// value. Split from config.cpp, which reads TOML and --set.
#include <algorithm>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config_fields.hpp"
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <ember/util/error.hpp>

namespace ember {

const std::vector<ModelPreset>& model_presets() {
  // The book's model_configs (ch05 gpt_generate.py).
  static const std::vector<ModelPreset> kPresets = {
      {"gpt2-small", 768, 12, 12},
      {"gpt2-medium", 1024, 24, 16},
      {"gpt2-large", 1280, 36, 20},
      {"gpt2-xl", 1600, 48, 25},
  };
  return kPresets;
}

namespace detail {
namespace {

// `value` is one of `choices`, or a ConfigError: "<source>: <key> is not a
// <what> (got '<value>', expected a, b or c<more>)".
void require_choice(
    std::string_view source,
    std::string_view key,
    std::string_view what,
    const std::string& value,
    const std::vector<std::string_view>& choices,
    std::string_view more = "") {
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return;
  std::string expected;
  size_t i = 0;
  for (const auto choice : choices) {
    if (i > 0) expected += i + 1 == choices.size() ? " or " : ", ";
    expected += choice;
    ++i;
  }
  throw ConfigError(fmt::format(
      "{}: {} is not a {} (got '{}', expected {}{})",
      source,
      key,
      what,
      value,
      expected,
      more));
}

// data.format's names and the keys that belong to one format only.
void validate_format(const DataConfig& d, std::string_view source) {
  require_choice(
      source,
      "data.format",
      "format",
      d.format,
      {"text", "instruction", "classification"});
  if (d.format == "instruction" && !d.train_path.empty()) {
    throw ConfigError(fmt::format(
        "{}: data.format = \"instruction\" reads one file, data.path, and "
        "splits it by data.train_ratio and data.test_ratio; hint: remove "
        "data.train_path and data.val_path",
        source));
  }
  if (d.format == "instruction" && d.train_ratio + d.test_ratio >= 1.0) {
    throw ConfigError(fmt::format(
        "{}: data.train_ratio + data.test_ratio leave no validation entries "
        "(got {} + {}, expected a sum below 1)",
        source,
        d.train_ratio,
        d.test_ratio));
  }
  if (d.format != "instruction" && d.mask_prompt) {
    throw ConfigError(fmt::format(
        "{}: data.mask_prompt applies to data.format = \"instruction\" "
        "only (got format '{}')",
        source,
        d.format));
  }
  if (d.format != "classification" && d.max_length == 0) {
    throw ConfigError(fmt::format(
        "{}: data.max_length out of range (got 0, expected 1 to 1048576; 0, "
        "the longest text, is for data.format = \"classification\" only)",
        source));
  }
  if (d.format != "classification" && !d.test_path.empty()) {
    throw ConfigError(fmt::format(
        "{}: data.test_path applies to data.format = \"classification\" "
        "only (got format '{}'); hint: an instruction file's test entries "
        "come from data.test_ratio",
        source,
        d.format));
  }
  const auto& delim = d.delimiter;
  if (!(delim.empty() || delim == "tab" || delim == "\\t" ||
        delim.size() == 1) ||
      delim == "\"" || delim == "\n" || delim == "\r") {
    throw ConfigError(fmt::format(
        "{}: data.delimiter is not a delimiter (got '{}', expected \"\" for "
        "by extension, \"tab\", or one character other than a quote or a "
        "line end)",
        source,
        delim));
  }
}

// The head and what it needs: a classifier reads labelled texts, a
// language-model head the other formats.
void validate_head(const Config& c, std::string_view source) {
  const auto& m = c.model;
  require_choice(source, "model.head", "head", m.head, {"lm", "classifier"});
  const bool classify = c.data.format == "classification";
  if (classify != (m.head == "classifier")) {
    throw ConfigError(fmt::format(
        "{}: data.format = \"{}\" needs model.head = \"{}\" (got \"{}\"); "
        "hint: a classifier learns labelled texts (format "
        "\"classification\"), a language model text or instructions",
        source,
        c.data.format,
        classify ? "classifier" : "lm",
        m.head));
  }
  if (m.head == "classifier" && m.tie_weights) {
    throw ConfigError(fmt::format(
        "{}: model.tie_weights = true needs the language-model head (got "
        "model.head = \"classifier\"); hint: a classifier's Linear(emb_dim, "
        "num_classes) has no token embedding to share, set "
        "model.tie_weights = false",
        source));
  }
  if (m.head == "classifier" && m.vocab_pad_to != 1) {
    throw ConfigError(fmt::format(
        "{}: model.vocab_pad_to = {} pads the language-model head (got "
        "model.head = \"classifier\"); hint: a classifier's head has "
        "num_classes rows, set model.vocab_pad_to = 1",
        source,
        m.vocab_pad_to));
  }
  const auto& names = c.data.label_names;
  if (!names.empty() && static_cast<int64_t>(names.size()) != m.num_classes) {
    throw ConfigError(fmt::format(
        "{}: data.label_names has {} names for model.num_classes {}; hint: "
        "name every label 0..{}, in order",
        source,
        names.size(),
        m.num_classes,
        m.num_classes - 1));
  }
}

// Which parameters train, and the adapter's names.
void validate_finetune(const FinetuneConfig& f, std::string_view source) {
  const std::string& t = f.trainable;
  if (!t.empty()) {
    require_choice(
        source,
        "train.trainable",
        "choice",
        t,
        {"all", "last_block", "head"},
        ", or \"\" for the head's default");
  }
  if (f.lora_rank > 0 && !t.empty()) {
    throw ConfigError(fmt::format(
        "{}: train.trainable = \"{}\" with train.lora_rank {}: with an "
        "adapter only the adapter trains; hint: remove train.trainable",
        source,
        t,
        f.lora_rank));
  }
  static const std::vector<std::string> kTargets = {
      "attention",
      "feed_forward",
      "out_head",
      "W_query",
      "W_key",
      "W_value",
      "out_proj"};
  for (const auto& name : f.lora_targets) {
    if (std::count(kTargets.begin(), kTargets.end(), name) == 0) {
      throw ConfigError(fmt::format(
          "{}: train.lora_targets: '{}' names no layer (expected some of: "
          "{}; [] = every Linear)",
          source,
          name,
          fmt::join(kTargets, ", ")));
    }
  }
}

bool valid_device(const std::string& d) {
  if (d == "auto" || d == "cpu" || d == "cuda") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5 || d.size() > 8) return false;
  return std::all_of(
      d.begin() + 5, d.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// train.lr_schedule's names, and one warmup length at most.
void validate_schedule(const TrainConfig& t, std::string_view source) {
  require_choice(
      source,
      "train.lr_schedule",
      "schedule",
      t.schedule.lr_schedule,
      {"constant", "cosine"});
  if (t.schedule.warmup_steps > 0 && t.schedule.warmup_ratio > 0) {
    throw ConfigError(fmt::format(
        "{}: train.warmup_steps and train.warmup_ratio are both set (got {} "
        "and {}); hint: give the warmup as a number of steps or as a share "
        "of the run, not both",
        source,
        t.schedule.warmup_steps,
        t.schedule.warmup_ratio));
  }
}

}  // namespace

// Sets the preset's model keys that are not in `explicit_keys`.
void apply_preset(
    Config& c,
    const std::set<std::string>& explicit_keys,
    std::string_view source) {
  auto& m = c.model;
  if (m.preset.empty()) return;
  const ModelPreset* preset = nullptr;
  std::vector<std::string> names;
  for (const auto& p : model_presets()) {
    names.emplace_back(p.name);
    if (m.preset == p.name) preset = &p;
  }
  if (preset == nullptr) {
    throw ConfigError(fmt::format(
        "{}: model.preset is not a preset (got '{}', expected one of: {}, or "
        "\"\" for none)",
        source,
        m.preset,
        fmt::join(names, ", ")));
  }
  const auto set = [&](const char* key, int64_t& field, int64_t value) {
    if (explicit_keys.count(std::string("model.") + key) == 0) field = value;
  };
  set("vocab_size", m.vocab_size, 50257);
  set("context_length", m.context_length, 1024);
  set("emb_dim", m.emb_dim, preset->emb_dim);
  set("n_layers", m.n_layers, preset->n_layers);
  set("n_heads", m.n_heads, preset->n_heads);
}

// The defaults that depend on data.format: the book's chapter-7 split.
void apply_format_defaults(
    Config& c, const std::set<std::string>& explicit_keys) {
  if (c.data.format == "instruction" &&
      explicit_keys.count("data.train_ratio") == 0) {
    c.data.train_ratio = 0.85;
  }
  // The book's SpamDataset(max_length=None): the longest training text.
  if (c.data.format == "classification" &&
      explicit_keys.count("data.max_length") == 0) {
    c.data.max_length = 0;
  }
}

// Checks that involve more than one key, or string values.
void validate(const Config& c, std::string_view source) {
  if (c.model.n_layers > 0 && c.model.emb_dim % c.model.n_heads != 0) {
    throw ConfigError(fmt::format(
        "{}: model.emb_dim must be divisible by model.n_heads (got emb_dim "
        "{}, n_heads {}); hint: each head gets emb_dim / n_heads dimensions",
        source,
        c.model.emb_dim,
        c.model.n_heads));
  }
  if (c.data.max_length > c.model.context_length) {
    throw ConfigError(fmt::format(
        "{}: data.max_length exceeds model.context_length (got {}, expected "
        "<= {})",
        source,
        c.data.max_length,
        c.model.context_length));
  }
  if (!valid_device(c.train.runtime.device)) {
    throw ConfigError(fmt::format(
        "{}: train.device is not a device (got '{}', expected auto, cpu, cuda "
        "or cuda:N)",
        source,
        c.train.runtime.device));
  }
  const auto& runtime = c.train.runtime;
  require_choice(
      source,
      "train.backend",
      "backend",
      runtime.backend,
      {"auto", "gloo", "nccl"});
  require_choice(
      source,
      "train.precision",
      "precision",
      runtime.precision,
      {kPrecisionNames.begin(), kPrecisionNames.end()});
  validate_schedule(c.train, source);
  validate_format(c.data, source);
  validate_head(c, source);
  validate_finetune(c.train.finetune, source);
  if (c.data.train_path.empty() != c.data.val_path.empty()) {
    const bool has_train = !c.data.train_path.empty();
    throw ConfigError(fmt::format(
        "{}: {} is set but {} is not; hint: give both data.train_path and "
        "data.val_path, or neither and data.path",
        source,
        has_train ? "data.train_path" : "data.val_path",
        has_train ? "data.val_path" : "data.train_path"));
  }
  if (c.data.path.empty() && c.data.train_path.empty()) {
    throw ConfigError(fmt::format(
        "{}: data.path is empty; hint: name a text or token file, or give "
        "data.train_path and data.val_path",
        source));
  }
  if (c.run.dir.empty()) {
    throw ConfigError(fmt::format("{}: run.dir is empty", source));
  }
  const std::pair<const char*, const std::string*> module_names[] = {
      {"pos_encoding", &c.model.pos_encoding},
      {"norm", &c.model.norm},
      {"attention", &c.model.attention},
      {"feed_forward", &c.model.feed_forward}};
  for (const auto& [key, value] : module_names) {
    if (value->empty())
      throw ConfigError(fmt::format("{}: model.{} is empty", source, key));
  }
}

}  // namespace detail
}  // namespace ember

// The config's checks after parsing (config_fields.hpp): the GPT-2 presets
// and the data format's defaults filled in where the file and --set leave
// keys unset, then the checks that involve more than one key or a string's
// value. Split from config.cpp, which reads TOML and --set.
#include <algorithm>
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

// data.format's names and the keys that belong to one format only.
void validate_format(const DataConfig& d, std::string_view source) {
  if (d.format != "text" && d.format != "instruction") {
    throw ConfigError(fmt::format(
        "{}: data.format is not a format (got '{}', expected text or "
        "instruction)",
        source,
        d.format));
  }
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
}

bool valid_device(const std::string& d) {
  if (d == "auto" || d == "cpu" || d == "cuda") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5 || d.size() > 8) return false;
  return std::all_of(
      d.begin() + 5, d.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

// train.lr_schedule's names, and one warmup length at most.
void validate_schedule(const TrainConfig& t, std::string_view source) {
  if (t.schedule.lr_schedule != "constant" &&
      t.schedule.lr_schedule != "cosine") {
    throw ConfigError(fmt::format(
        "{}: train.lr_schedule is not a schedule (got '{}', expected constant "
        "or cosine)",
        source,
        t.schedule.lr_schedule));
  }
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
  if (c.train.runtime.backend != "auto" && c.train.runtime.backend != "gloo" &&
      c.train.runtime.backend != "nccl") {
    throw ConfigError(fmt::format(
        "{}: train.backend is not a backend (got '{}', expected auto, gloo or "
        "nccl)",
        source,
        c.train.runtime.backend));
  }
  validate_schedule(c.train, source);
  validate_format(c.data, source);
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

#include "ember/run/finetune.hpp"

#include <algorithm>
#include <set>
#include <vector>

#include <c10/core/GradMode.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/utils.h>

#include <ember/checkpoint/weights.hpp>
#include <ember/nn/adapter.hpp>
#include <ember/util/error.hpp>

namespace ember {
namespace {

// "trf_blocks.0.att.W_query" -> "W_query".
std::string leaf(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

bool contains(const std::string& name, const char* part) {
  return name.find(part) != std::string::npos;
}

// Whether train.lora_targets names the Linear at `name`.
bool targeted(const std::string& name, const std::vector<std::string>& only) {
  if (only.empty()) return true;
  return std::any_of(only.begin(), only.end(), [&](const std::string& t) {
    if (t == "attention") return contains(name, ".att.");
    if (t == "feed_forward") return contains(name, ".ff.");
    return leaf(name) == t;
  });
}

// The "<linear>.<adapter>" prefix of every adapter, in the model's order.
std::vector<std::string> adapter_prefixes(GPTModelImpl& model) {
  std::vector<std::string> out;
  for (const auto& item : model.named_modules()) {
    if (std::dynamic_pointer_cast<AdapterImpl>(item.value()))
      out.push_back(item.key());
  }
  return out;
}

bool has_prefix(const std::string& name, const std::string& prefix) {
  return name.size() > prefix.size() &&
         name.compare(0, prefix.size(), prefix) == 0 &&
         name[prefix.size()] == '.';
}

}  // namespace

std::string trainable_part(const Config& config) {
  if (config.train.finetune.lora_rank > 0) return "adapter";
  const auto& t = config.train.finetune.trainable;
  if (!t.empty()) return t;
  return config.model.head == "classifier" ? "last_block" : "all";
}

void set_trainable(GPTModelImpl& model, const std::string& part) {
  const bool all = part == "all";
  for (auto& p : model.parameters()) p.set_requires_grad(all);
  if (all || part == "none") return;
  const auto unfreeze = [](torch::nn::Module& m) {
    for (auto& p : m.parameters()) p.set_requires_grad(true);
  };
  if (part == "adapter") {
    for (const auto& m : model.modules()) {
      if (std::dynamic_pointer_cast<AdapterImpl>(m)) unfreeze(*m);
    }
    return;
  }
  unfreeze(*model.out_head);
  if (part == "last_block") {
    if (!model.trf_blocks->is_empty())
      unfreeze(*model.trf_blocks[model.trf_blocks->size() - 1]);
    unfreeze(*model.final_norm.ptr());
  }
}

void attach_adapters(GPTModelImpl& model, const FinetuneConfig& f) {
  if (f.lora_rank == 0) return;
  adapters().check(f.adapter);
  int attached = 0;
  for (const auto& item : model.named_modules()) {
    auto* linear = item.value()->as<torch::nn::LinearImpl>();
    if (linear == nullptr || !targeted(item.key(), f.lora_targets)) continue;
    const auto& o = linear->options;
    if (f.lora_rank > o.in_features()) {
      throw ConfigError(fmt::format(
          "train.lora_rank {} is larger than the {} input features of {}; "
          "hint: a rank above a layer's width adds nothing",
          f.lora_rank,
          o.in_features(),
          item.key()));
    }
    AdapterSpec spec;
    spec.in_features = o.in_features();
    spec.out_features = o.out_features();
    spec.rank = f.lora_rank;
    spec.alpha = f.lora_alpha;
    attach_adapter(*linear, f.adapter, adapters().make(f.adapter, spec));
    ++attached;
  }
  if (attached == 0) {
    throw ConfigError(fmt::format(
        "train.lora_targets: no Linear layer of the model is targeted by "
        "[{}]; hint: [] targets every one",
        fmt::join(f.lora_targets, ", ")));
  }
}

void prepare_finetune(GPTModel& model, const Config& config) {
  const auto seed = static_cast<uint64_t>(config.train.seed);
  const bool classifier = config.model.head == "classifier";
  if (classifier) {
    // The book: freeze, manual_seed, model.out_head = Linear(...).
    set_trainable(*model, "none");
    torch::manual_seed(seed);
    model->reset_head();
  }
  attach_adapters(*model, config.train.finetune);
  set_trainable(*model, trainable_part(config));
  if (classifier) torch::manual_seed(seed);
}

ParameterCount count_parameters(GPTModelImpl& model) {
  ParameterCount out;
  std::set<const void*> seen;
  for (const auto& p : model.parameters()) {
    if (!seen.insert(p.unsafeGetTensorImpl()).second) continue;
    out.total += p.numel();
    if (p.requires_grad()) out.trainable += p.numel();
  }
  return out;
}

bool is_adapter_entry(GPTModelImpl& model, const std::string& name) {
  const auto prefixes = adapter_prefixes(model);
  return std::any_of(prefixes.begin(), prefixes.end(), [&](const auto& p) {
    return has_prefix(name, p);
  });
}

WeightFilter base_entries(GPTModelImpl& model) {
  WeightFilter f;
  f.fills = [&model](const std::string& n) {
    return !is_adapter_entry(model, n);
  };
  return f;
}

WeightFilter adapter_entries(GPTModelImpl& model) {
  WeightFilter f;
  f.fills = [&model](const std::string& n) {
    return is_adapter_entry(model, n);
  };
  return f;
}

void require_adapters(GPTModelImpl& model, const std::string& option) {
  if (has_adapters(model)) return;
  throw ConfigError(fmt::format(
      "{}: a second file is an adapter, but the config has none; hint: set "
      "train.lora_rank (and train.lora_alpha) as in the run that exported it",
      option));
}

void load_user_weights(
    GPTModelImpl& model,
    const std::string& path,
    const WeightFilter& filter,
    const std::string& option) {
  try {
    load_weights(model, path, filter);
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(fmt::format("{}: {}", option, e.what()));
  }
}

StateDict merged_state(GPTModelImpl& model) {
  c10::NoGradGuard no_grad;
  StateDict sd = torch_state_dict(model);
  const auto prefixes = adapter_prefixes(model);
  for (const auto& prefix : prefixes) {
    const std::string linear_name = prefix.substr(0, prefix.rfind('.'));
    auto* linear =
        model.named_modules()[linear_name]->as<torch::nn::LinearImpl>();
    const auto delta = adapter_of(*linear)->delta_weight();
    if (!delta.defined()) {
      throw Error(fmt::format(
          "export: the adapter of {} cannot be merged into its weight; hint: "
          "export it with --lora-only",
          linear_name));
    }
    for (auto& [name, t] : sd) {
      if (name == linear_name + ".weight") t = t + delta.to(t.dtype());
    }
  }
  sd.erase(
      std::remove_if(
          sd.begin(),
          sd.end(),
          [&](const auto& kv) {
            return std::any_of(prefixes.begin(), prefixes.end(), [&](auto& p) {
              return has_prefix(kv.first, p);
            });
          }),
      sd.end());
  return sd;
}

StateDict adapter_state(GPTModelImpl& model) {
  const auto prefixes = adapter_prefixes(model);
  StateDict out;
  for (auto& kv : torch_state_dict(model)) {
    const bool mine =
        std::any_of(prefixes.begin(), prefixes.end(), [&](auto& p) {
          return has_prefix(kv.first, p);
        });
    if (mine) out.push_back(std::move(kv));
  }
  return out;
}

}  // namespace ember

// Fine-tuning a built model: which parameters train (train.trainable), the
// classifier head of the book's chapter 6 and the adapters of its appendix E
// (train.lora_rank), applied in the book's random order, and the weights
// such a model exports (merged, or the adapter alone). Leaves out: adapters
// on anything but Linear layers.
#pragma once

#include <cstdint>
#include <string>

#include <ember/checkpoint/state_dict.hpp>
#include <ember/checkpoint/weights.hpp>
#include <ember/config/config.hpp>
#include <ember/nn/gpt_model.hpp>

namespace ember {

/// What trains: "all", "last_block" (out_head, the last transformer block
/// and final_norm), "head" (out_head) or "adapter" (only the adapters, when
/// train.lora_rank > 0); train.trainable's "" resolved by the head.
std::string trainable_part(const Config& config);

/// Sets requires_grad of every parameter of `model` for `part`
/// (trainable_part()): frozen parameters get no gradient, no optimizer
/// state and no all-reduce.
void set_trainable(GPTModelImpl& model, const std::string& part);

/// Puts train.adapter beside each Linear that train.lora_targets names
/// (every one when empty), in the book's module order (replace_linear_
/// with_lora: depth first, in registration order), each drawing its
/// parameters; nothing when lora_rank is 0. Throws ConfigError when no
/// Linear is targeted, or lora_rank exceeds a targeted layer's input
/// features ("train.lora_rank 1024 is larger than the 768 input features
/// of trf_blocks.0.att.W_query").
void attach_adapters(GPTModelImpl& model, const FinetuneConfig& f);

/// The fine-tuning steps after the model is built and its --init-from
/// weights loaded, in the book's order: for a classifier (ch06) freeze,
/// manual_seed(seed), the new head (reset_head), then the adapters (appendix
/// E) or the trainable part, manual_seed(seed); otherwise the adapters, if
/// any, and the trainable part.
void prepare_finetune(GPTModel& model, const Config& config);

struct ParameterCount {
  int64_t total = 0;      ///< each tensor once (tied weights once)
  int64_t trainable = 0;  ///< of those, the ones with requires_grad
};

ParameterCount count_parameters(GPTModelImpl& model);

/// The model's weights with each adapter merged into its Linear (W +
/// delta_weight()) and no adapter entries: a plain GPTModel's state dict,
/// in its order. Throws ember::Error when an adapter cannot be merged.
StateDict merged_state(GPTModelImpl& model);

/// The adapters' entries alone, under their names
/// (trf_blocks.0.att.W_query.lora.A, ...), in the model's order.
StateDict adapter_state(GPTModelImpl& model);

/// Whether `name` (a state-dict key of `model`) belongs to an adapter.
bool is_adapter_entry(GPTModelImpl& model, const std::string& name);

/// The two halves of a model with adapters, for load_weights: its base
/// entries (every one but the adapters'), which a base model's file fills,
/// and its adapters' (is_adapter_entry), which an adapter file fills
/// (`ember export --lora-only`). `model` must outlive the filters.
WeightFilter base_entries(GPTModelImpl& model);
WeightFilter adapter_entries(GPTModelImpl& model);

/// For a second weights file given with `option` (--weights, --init-from):
/// throws ConfigError when `model` has no adapters for it ("--weights: a
/// second file is an adapter, but the config has none; hint: set
/// train.lora_rank ...").
void require_adapters(GPTModelImpl& model, const std::string& option);

/// load_weights of a file the user named with `option`: a bad file is a
/// usage error, ConfigError "OPTION: <load_weights' one line>" (exit 2).
void load_user_weights(
    GPTModelImpl& model,
    const std::string& path,
    const WeightFilter& filter,
    const std::string& option);

}  // namespace ember

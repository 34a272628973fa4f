// Adapters: a small trainable module beside a frozen Linear, whose output
// it adds to (parameter-efficient fine-tuning; the book's appendix E). An
// adapter is a child of its Linear, registered under its registry name, so
// its parameters are `<linear>.<name>.<param>` (the book's LoRA:
// `trf_blocks.0.att.W_query.lora.A`) and the Linear's own keep their names
// (a base model's weights load unchanged). Modules call adapted(linear, x)
// instead of linear(x). A user adds an adapter (e.g. DoRA) in their own .cpp
// with EMBER_REGISTER_ADAPTER and selects it with train.adapter; the trainer
// needs no change (docs/extending.md).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace ember {

/// What an adapter factory gets: its Linear's shape and the config's
/// train.lora_rank and train.lora_alpha.
struct AdapterSpec {
  int64_t in_features = 0;
  int64_t out_features = 0;
  int64_t rank = 0;
  double alpha = 0;
};

/// An adapter. Create parameters in the order the PyTorch twin does, so the
/// same seed gives the same values.
class AdapterImpl : public torch::nn::Module {
 public:
  /// `base` is the Linear's output for `x` (..., in) -> (..., out); returns
  /// the adapted output.
  virtual at::Tensor forward(const at::Tensor& x, const at::Tensor& base) = 0;

  /// The change of the Linear's (out, in) weight that gives the same
  /// outputs (for a merged export), or an undefined tensor when there is
  /// none (the adapter cannot be merged).
  virtual at::Tensor delta_weight() const = 0;
};

/// The adapters, by name ("lora"; train.adapter).
class AdapterRegistry {
 public:
  using Factory =
      std::function<std::shared_ptr<AdapterImpl>(const AdapterSpec&)>;
  /// Throws ember::Error when the name is taken.
  void add(const std::string& name, Factory factory);
  /// Throws ConfigError naming the registered ones when `name` is not one.
  void check(const std::string& name) const;
  std::shared_ptr<AdapterImpl> make(
      const std::string& name, const AdapterSpec& spec) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, Factory> factories_;
};

AdapterRegistry& adapters();

/// linear(x), plus its adapter's part when it has one.
at::Tensor adapted(torch::nn::Linear& linear, const at::Tensor& x);

/// The adapter attached to `linear`, or nullptr.
std::shared_ptr<AdapterImpl> adapter_of(const torch::nn::LinearImpl& linear);

/// Makes `adapter` a child of `linear` under `name`.
void attach_adapter(
    torch::nn::LinearImpl& linear,
    const std::string& name,
    std::shared_ptr<AdapterImpl> adapter);

/// Whether `m` or any module under it has an adapter.
bool has_adapters(torch::nn::Module& m);

namespace detail {
inline bool register_adapter(const char* name, AdapterRegistry::Factory f) {
  adapters().add(name, std::move(f));
  return true;
}
}  // namespace detail

}  // namespace ember

/// At namespace scope in a .cpp of ember_core:
///   EMBER_REGISTER_ADAPTER(dora, [](const ember::AdapterSpec& s) {
///     return std::make_shared<DoRAImpl>(s);
///   });
#define EMBER_REGISTER_ADAPTER(name, factory)         \
  static const bool ember_registered_adapter_##name = \
      ::ember::detail::register_adapter(#name, factory)

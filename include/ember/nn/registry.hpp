// The extension points of the model: each part the config names is built by
// a factory registered under that name, so a user adds a module in their own
// .cpp without touching the driver (docs/extending.md walks through two).
//
//   config key          registry           built in
//   model.pos_encoding  input_embeddings() learned (the book's), sinusoidal
//   model.norm          norms()            layernorm (the book's), rmsnorm
//   model.attention     attentions()       multihead (the book's), fused
//   model.feed_forward  feed_forwards()    gelu (the book's)
//
// A factory returns a torch::nn::AnyModule whose forward takes and returns
// one tensor: (B, T) int64 ids -> (B, T, D) for input embeddings, (B, T, D)
// -> (B, T, D) for the others. Create parameters in the order PyTorch would,
// so seeding matches.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <torch/nn/modules/container/any.h>

namespace ember {

/// What an input-embedding factory gets: the model's shape. A module with a
/// token table named `tok_emb` supports model.tie_weights.
struct InputEmbeddingSpec {
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  int64_t emb_dim = 0;
};

/// What a norm, attention or feed-forward factory gets: one block's shape
/// (the book's cfg keys). Norms use emb_dim only.
struct BlockSpec {
  int64_t emb_dim = 0;
  int64_t context_length = 0;
  int64_t n_heads = 1;
  double drop_rate = 0.0;
  bool qkv_bias = false;
};

/// Named factories of one kind of module.
template <class Spec>
class ModuleRegistry {
 public:
  using Factory = std::function<torch::nn::AnyModule(const Spec&)>;

  /// `key` is the config key that selects from it ("model.norm"), `what`
  /// the noun its errors use ("norm").
  ModuleRegistry(std::string key, std::string what)
      : key_(std::move(key)), what_(std::move(what)) {}

  /// Registers `factory` under `name`; throws ember::Error when the name is
  /// taken. Usually called through EMBER_REGISTER_MODULE.
  void add(const std::string& name, Factory factory);

  /// Throws ConfigError naming the registered names when `name` is not one:
  ///   "model.norm: unknown norm 'x' (expected one of: layernorm, rmsnorm)"
  void check(const std::string& name) const;

  /// Builds the module registered as `name` (check() first).
  torch::nn::AnyModule make(const std::string& name, const Spec& spec) const;

  /// Registered names, sorted.
  std::vector<std::string> names() const;

 private:
  std::string key_;
  std::string what_;
  std::map<std::string, Factory> factories_;
};

extern template class ModuleRegistry<InputEmbeddingSpec>;
extern template class ModuleRegistry<BlockSpec>;

/// The registries (function-local statics, so registrations from other
/// translation units' static initialisers find them constructed).
ModuleRegistry<InputEmbeddingSpec>& input_embeddings();
ModuleRegistry<BlockSpec>& norms();
ModuleRegistry<BlockSpec>& attentions();
ModuleRegistry<BlockSpec>& feed_forwards();

namespace detail {
template <class Spec, class F>
bool register_module_factory(
    ModuleRegistry<Spec>& registry, const char* name, F factory) {
  registry.add(name, std::move(factory));
  return true;
}
}  // namespace detail

}  // namespace ember

/// At namespace scope in any .cpp of ember_core (linked whole into the
/// driver and the tests, so the registration is never dropped):
///   EMBER_REGISTER_MODULE(norms, rmsnorm, [](const ember::BlockSpec& s) {
///     return torch::nn::AnyModule(RMSNorm(RMSNormOptions(s.emb_dim)));
///   });
#define EMBER_REGISTER_MODULE(registry, name, factory)     \
  static const bool ember_registered_##registry##_##name = \
      ::ember::detail::register_module_factory(            \
          ::ember::registry(), #name, factory)

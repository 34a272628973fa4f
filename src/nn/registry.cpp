#include "ember/nn/registry.hpp"

#include <utility>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <ember/util/error.hpp>

namespace ember {

template <class Spec>
void ModuleRegistry<Spec>::add(const std::string& name, Factory factory) {
  if (!factories_.emplace(name, std::move(factory)).second) {
    throw Error(
        fmt::format("{}: {} '{}' is already registered", key_, what_, name));
  }
}

template <class Spec>
void ModuleRegistry<Spec>::check(const std::string& name) const {
  if (factories_.count(name) == 0) {
    throw ConfigError(fmt::format(
        "{}: unknown {} '{}' (expected one of: {})",
        key_,
        what_,
        name,
        fmt::join(names(), ", ")));
  }
}

template <class Spec>
torch::nn::AnyModule ModuleRegistry<Spec>::make(
    const std::string& name, const Spec& spec) const {
  check(name);
  return factories_.at(name)(spec);
}

template <class Spec>
std::vector<std::string> ModuleRegistry<Spec>::names() const {
  std::vector<std::string> out;
  for (const auto& entry : factories_) out.push_back(entry.first);
  return out;
}

template class ModuleRegistry<InputEmbeddingSpec>;
template class ModuleRegistry<BlockSpec>;

ModuleRegistry<InputEmbeddingSpec>& input_embeddings() {
  static ModuleRegistry<InputEmbeddingSpec> kRegistry(
      "model.pos_encoding", "encoding");
  return kRegistry;
}

ModuleRegistry<BlockSpec>& norms() {
  static ModuleRegistry<BlockSpec> kRegistry("model.norm", "norm");
  return kRegistry;
}

ModuleRegistry<BlockSpec>& attentions() {
  static ModuleRegistry<BlockSpec> kRegistry("model.attention", "attention");
  return kRegistry;
}

ModuleRegistry<BlockSpec>& feed_forwards() {
  static ModuleRegistry<BlockSpec> kRegistry(
      "model.feed_forward", "feed-forward");
  return kRegistry;
}

}  // namespace ember

#include "ember/nn/registry.hpp"

#include <map>
#include <utility>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include <ember/util/error.hpp>
#include <ember/nn/gpt_embedding.hpp>

namespace ember {
namespace {

// Function-local so registrations from other translation units' static
// initialisers find it constructed, whatever the initialisation order.
std::map<std::string, InputEmbeddingFactory>& registry() {
  static std::map<std::string, InputEmbeddingFactory> kRegistry;
  return kRegistry;
}

}  // namespace

void register_input_embedding(
    const std::string& name, InputEmbeddingFactory factory) {
  if (!registry().emplace(name, std::move(factory)).second) {
    throw Error(fmt::format(
        "register_input_embedding: '{}' is already registered", name));
  }
}

void check_input_embedding(const std::string& name) {
  if (registry().count(name) == 0) {
    throw ConfigError(fmt::format(
        "model.pos_encoding: unknown encoding '{}' (expected one of: {})",
        name,
        fmt::join(input_embedding_names(), ", ")));
  }
}

torch::nn::AnyModule make_input_embedding(
    const std::string& name, const InputEmbeddingSpec& spec) {
  check_input_embedding(name);
  return registry().at(name)(spec);
}

std::vector<std::string> input_embedding_names() {
  std::vector<std::string> out;
  for (const auto& entry : registry()) out.push_back(entry.first);
  return out;
}

// The book's learned token + positional embeddings (ch02 / ch04 GPTModel).
EMBER_REGISTER_INPUT_EMBEDDING(learned, [](const InputEmbeddingSpec& s) {
  return torch::nn::AnyModule(GPTEmbedding(
      GPTEmbeddingOptions(s.vocab_size, s.context_length, s.emb_dim)));
});

}  // namespace ember

// The extension point for input embeddings: `model.pos_encoding = "<name>"`
// in the config selects a module registered under that name here, so a user
// adds a positional encoding in their own .cpp without touching the driver
// (docs/extending.md walks through "sinusoidal"). Ships "learned"
// (GPTEmbedding) and "sinusoidal" (SinusoidalEncoding).
// Leaves out: registries for blocks and heads (added with transformer blocks).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/nn/modules/container/any.h>

namespace ember {

/// What an input-embedding factory gets: the model's shape.
struct InputEmbeddingSpec {
  int64_t vocab_size = 0;
  int64_t context_length = 0;
  int64_t emb_dim = 0;
};

/// Builds a module whose forward((B, T) int64 ids) returns (B, T, D) float
/// embeddings. Create parameters in the order PyTorch would, so seeding
/// matches. A module with a token table named `tok_emb` supports
/// model.tie_weights.
using InputEmbeddingFactory =
    std::function<torch::nn::AnyModule(const InputEmbeddingSpec&)>;

/// Registers `factory` under `name`; throws ember::Error when the name is
/// taken. Usually called through EMBER_REGISTER_INPUT_EMBEDDING.
void register_input_embedding(
    const std::string& name, InputEmbeddingFactory factory);

/// Builds the module registered as `name`. Throws ConfigError naming the
/// registered names when there is none:
///   "model.pos_encoding: unknown encoding 'x' (expected one of: learned,
///    sinusoidal)"
torch::nn::AnyModule make_input_embedding(
    const std::string& name, const InputEmbeddingSpec& spec);

/// Throws the ConfigError above when `name` is not registered.
void check_input_embedding(const std::string& name);

/// Registered names, sorted.
std::vector<std::string> input_embedding_names();

namespace detail {
struct InputEmbeddingRegistrar {
  InputEmbeddingRegistrar(const char* name, InputEmbeddingFactory factory) {
    register_input_embedding(name, std::move(factory));
  }
};
}  // namespace detail

}  // namespace ember

/// At namespace scope in any .cpp of ember_core (linked whole into the
/// driver and the tests, so the registration is never dropped):
///   EMBER_REGISTER_INPUT_EMBEDDING(sinusoidal, [](const ember::
///       InputEmbeddingSpec& s) { return torch::nn::AnyModule(...); });
#define EMBER_REGISTER_INPUT_EMBEDDING(name, factory)   \
  static const ::ember::detail::InputEmbeddingRegistrar \
      ember_input_embedding_registrar_##name {          \
#name, factory                                      \
  }

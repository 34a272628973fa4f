#include "ember/nn/sinusoidal_encoding.hpp"

#include <cmath>

#include <ATen/ops/arange.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>

#include <ember/nn/gpt_embedding.hpp>
#include <ember/nn/registry.hpp>

namespace ember {

SinusoidalEncodingImpl::SinusoidalEncodingImpl(SinusoidalEncodingOptions o)
    : options_(o) {
  TORCH_CHECK_VALUE(
      o.vocab_size() >= 1 && o.context_length() >= 1 && o.emb_dim() >= 1,
      "SinusoidalEncoding: vocab_size, context_length and emb_dim must be >= "
      "1 (got ",
      o.vocab_size(),
      ", ",
      o.context_length(),
      ", ",
      o.emb_dim(),
      ")");
  tok_emb = register_module(
      "tok_emb", torch::nn::Embedding(o.vocab_size(), o.emb_dim()));
  pe = register_buffer("pe", table(o.context_length(), o.emb_dim()));
}

torch::Tensor SinusoidalEncodingImpl::table(
    int64_t context_length, int64_t emb_dim) {
  auto out = at::zeros({context_length, emb_dim}, at::kDouble);
  auto acc = out.accessor<double, 2>();
  for (int64_t pos = 0; pos < context_length; ++pos) {
    for (int64_t i = 0; i < emb_dim; i += 2) {
      // 1 / 10000^(2i'/D) with 2i' = i, the paper's frequency.
      const double angle = static_cast<double>(pos) *
                           std::exp(
                               -std::log(10000.0) * static_cast<double>(i) /
                               static_cast<double>(emb_dim));
      acc[pos][i] = std::sin(angle);
      if (i + 1 < emb_dim) acc[pos][i + 1] = std::cos(angle);
    }
  }
  return out.to(at::kFloat);
}

torch::Tensor SinusoidalEncodingImpl::forward(const torch::Tensor& ids) {
  return forward_at(ids, 0);
}

torch::Tensor SinusoidalEncodingImpl::forward_at(
    const torch::Tensor& ids, int64_t start) {
  const int64_t t = check_token_ids(ids, "SinusoidalEncoding", options_, start);
  // (B, T) -> (B, T, D) plus (T, D) broadcast over B.
  return tok_emb(ids) + pe.narrow(0, start, t);
}

// Registered exactly as a user's own module would be (docs/extending.md).
EMBER_REGISTER_MODULE(
    input_embeddings, sinusoidal, [](const InputEmbeddingSpec& s) {
      return torch::nn::AnyModule(SinusoidalEncoding(SinusoidalEncodingOptions(
          s.vocab_size, s.context_length, s.emb_dim)));
    });

}  // namespace ember

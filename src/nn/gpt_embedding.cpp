#include <utility>

#include <ATen/ops/arange.h>
#include <c10/util/Exception.h>

#include <ember/nn/gpt_embedding.hpp>
#include <ember/nn/registry.hpp>

namespace ember {

GPTEmbeddingOptions::GPTEmbeddingOptions(
    // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the book's order
    int64_t vocab_size,
    int64_t context_length,
    int64_t emb_dim)
    : vocab_size_(vocab_size),
      context_length_(context_length),
      emb_dim_(emb_dim) {}

GPTEmbeddingImpl::GPTEmbeddingImpl(GPTEmbeddingOptions options)
    : options_(options) {
  TORCH_CHECK_VALUE(
      options_.vocab_size() >= 1,
      "GPTEmbedding: vocab_size must be at least 1 (got ",
      options_.vocab_size(),
      ")");
  TORCH_CHECK_VALUE(
      options_.context_length() >= 1,
      "GPTEmbedding: context_length must be at least 1 (got ",
      options_.context_length(),
      ")");
  TORCH_CHECK_VALUE(
      options_.emb_dim() >= 1,
      "GPTEmbedding: emb_dim must be at least 1 (got ",
      options_.emb_dim(),
      ")");
  // Order matters: each constructor draws N(0, 1) from the global generator.
  tok_emb = register_module(
      "tok_emb",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(
          options_.vocab_size(), options_.emb_dim())));
  pos_emb = register_module(
      "pos_emb",
      torch::nn::Embedding(torch::nn::EmbeddingOptions(
          options_.context_length(), options_.emb_dim())));
}

void check_token_ids(
    const at::Tensor& ids,
    const char* module,
    int64_t context_length,
    int64_t vocab_size,
    int64_t start) {
  TORCH_CHECK(
      ids.dim() == 2,
      module,
      ": ids must be 2-D (B, T) (got ",
      ids.dim(),
      "-D, shape ",
      ids.sizes(),
      ")");
  TORCH_CHECK(
      ids.scalar_type() == at::kLong,
      module,
      ": ids must be int64 (got ",
      ids.scalar_type(),
      ")");
  TORCH_CHECK(
      start + ids.size(1) <= context_length,
      module,
      ": sequence length exceeds context_length (got T = ",
      start + ids.size(1),
      ", expected <= ",
      context_length,
      ")");
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>();
    const int64_t hi = ids.max().item<int64_t>();
    TORCH_CHECK_INDEX(
        lo >= 0 && hi < vocab_size,
        module,
        ": token id out of range (got ",
        lo < 0 ? lo : hi,
        ", expected 0 <= id < ",
        vocab_size,
        ")");
  }
}

torch::Tensor GPTEmbeddingImpl::forward(const torch::Tensor& ids) {
  return forward_at(ids, 0);
}

torch::Tensor GPTEmbeddingImpl::forward_at(
    const torch::Tensor& ids, int64_t start) {
  const int64_t t = check_token_ids(ids, "GPTEmbedding", options_, start);
  // (B, T) -> (B, T, D)
  const torch::Tensor tok = tok_emb(ids);
  // (T,) -> (T, D), broadcast over B
  const torch::Tensor pos =
      pos_emb(at::arange(start, start + t, ids.options()));
  return tok + pos;
}

// The book's learned token + positional embeddings (ch02 / ch04 GPTModel).
EMBER_REGISTER_MODULE(
    input_embeddings, learned, [](const InputEmbeddingSpec& s) {
      return torch::nn::AnyModule(GPTEmbedding(
          GPTEmbeddingOptions(s.vocab_size, s.context_length, s.emb_dim)));
    });

}  // namespace ember

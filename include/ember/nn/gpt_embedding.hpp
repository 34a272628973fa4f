// Token + positional input embeddings of GPT-2 (the book's ch02 section 2.8
// and GPTModel.tok_emb / pos_emb in ch04): forward(ids) = tok_emb(ids) +
// pos_emb(arange(T)). Registered in the book's order and under its names, so
// torch::manual_seed(s) gives PyTorch's weights bit for bit.
// Leaves out: dropout, weight tying, sinusoidal encodings (the training
// driver's modules). Dimensions: B batch, T sequence, D emb_dim, V vocab.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include <ember/nn/kv_cache.hpp>

namespace ember {

/// GPTEmbeddingOptions(50257, 1024, 768): all three are required and >= 1.
struct GPTEmbeddingOptions {
  GPTEmbeddingOptions(
      // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the book's order
      int64_t vocab_size,
      int64_t context_length,
      int64_t emb_dim);
  /// V: rows of the token embedding.
  TORCH_ARG(int64_t, vocab_size);
  /// Rows of the positional embedding: the longest T forward accepts.
  TORCH_ARG(int64_t, context_length);
  /// D: width of both embeddings.
  TORCH_ARG(int64_t, emb_dim);
};

/// The input checks every input-embedding module makes in forward(): `ids`
/// is (B, T) int64, T <= context_length, every id in [0, vocab_size). Throws
/// c10::Error (IndexError for ids) naming `module`:
///   "GPTEmbedding: token id out of range (got 50257, expected 0 <= id <
///   50257)"
/// With start > 0 (positions start..start+T-1, nn/kv_cache.hpp) the
/// positions must fit: start + T <= context_length.
void check_token_ids(
    const at::Tensor& ids,
    const char* module,
    int64_t context_length,
    int64_t vocab_size,
    int64_t start = 0);

/// check_token_ids with an embedding's options (their context_length() and
/// vocab_size()); returns T, the positions `ids` covers.
template <class Options>
int64_t check_token_ids(
    const at::Tensor& ids,
    const char* module,
    const Options& options,
    int64_t start) {
  check_token_ids(
      ids, module, options.context_length(), options.vocab_size(), start);
  return ids.size(1);
}

/// Submodules `tok_emb` = Embedding(V, D) then `pos_emb` = Embedding(C, D),
/// each initialised N(0, 1) like torch.nn.Embedding.
///
///   torch::manual_seed(123);
///   GPTEmbedding emb(GPTEmbeddingOptions(50257, 4, 256));
///   emb(ids) // ids (8, 4) int64 -> (8, 4, 256) float32
class GPTEmbeddingImpl : public torch::nn::Module, public PositionedEmbedding {
 public:
  /// Throws c10::ValueError when an option is < 1.
  explicit GPTEmbeddingImpl(GPTEmbeddingOptions options);

  /// (B, T) int64 ids -> (B, T, D) on the ids' device. Throws c10::Error on
  /// a rank other than 2, a dtype other than int64, or T > context_length,
  /// and c10::IndexError on an id outside [0, V) (checked before the lookup,
  /// so CUDA never hits a device-side assert).
  torch::Tensor forward(const torch::Tensor& ids);

  /// forward() at positions start..start+T-1 (a KV-cache step).
  torch::Tensor forward_at(const torch::Tensor& ids, int64_t start) override;

  const GPTEmbeddingOptions& options() const {
    return options_;
  }

  torch::nn::Embedding tok_emb{nullptr};
  torch::nn::Embedding pos_emb{nullptr};

 private:
  GPTEmbeddingOptions options_;
};

TORCH_MODULE(GPTEmbedding);

}  // namespace ember

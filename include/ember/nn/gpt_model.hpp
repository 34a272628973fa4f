// GPTModel: the book's GPTModel (ch04 gpt.py). Input embedding (token +
// positional), Dropout(drop_rate), n_layers TransformerBlocks, final norm,
// out_head = Linear(D, V, bias=false); optional tie_weights. n_layers = 0 is
// chapter 2's model (embeddings straight into the head).
//
// Parameter names are the book's state-dict keys (tok_emb.weight,
// pos_emb.weight, trf_blocks.0.att.W_query.weight, ..., final_norm.scale,
// final_norm.shift, out_head.weight) and parameters are created in its
// order, so torch::manual_seed(s) gives the weights of the same model built
// in PyTorch. The input embedding's submodules, parameters and buffers sit
// at the top level (no `embedding.` prefix) as in the book.
// forward_cached() is the KV-cache step of generation (nn/kv_cache.hpp).
// Dimensions: B batch, T sequence, D emb_dim, V vocab.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <ember/nn/dropout.hpp>
#include <ember/nn/precision.hpp>
#include <ember/nn/prefix_cache.hpp>
#include <ember/nn/transformer_block.hpp>

namespace ember {

struct ModelConfig;

/// The book's cfg dict: GPTModelOptions(50257, 1024, 768).n_layers(12)
///   .n_heads(12).drop_rate(0.1).qkv_bias(false)
struct GPTModelOptions {
  GPTModelOptions(
      // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the book's order
      int64_t vocab_size,
      int64_t context_length,
      int64_t emb_dim)
      : vocab_size_(vocab_size),
        context_length_(context_length),
        emb_dim_(emb_dim) {}
  TORCH_ARG(int64_t, vocab_size);
  TORCH_ARG(int64_t, context_length);
  TORCH_ARG(int64_t, emb_dim);
  TORCH_ARG(int64_t, n_layers) = 0;
  TORCH_ARG(int64_t, n_heads) = 1;
  TORCH_ARG(double, drop_rate) = 0.1;
  TORCH_ARG(bool, qkv_bias) = false;
  /// out_head uses the input embedding's `tok_emb.weight` (the out_head
  /// Linear is still built first, so the random draws match untied runs).
  TORCH_ARG(bool, tie_weights) = false;
  /// Names in nn/registry.hpp.
  TORCH_ARG(std::string, pos_encoding) = "learned";
  TORCH_ARG(std::string, norm) = "layernorm";
  TORCH_ARG(std::string, attention) = "multihead";
  TORCH_ARG(std::string, feed_forward) = "gelu";
  /// 0: the language-model head Linear(D, V, bias=false); n >= 2: the book's
  /// chapter-6 classifier head Linear(D, n) with bias (no tie_weights).
  TORCH_ARG(int64_t, num_classes) = 0;
  /// The language-model head's product in forward_for_loss (training and
  /// evaluation) computes V rounded up to a multiple of this many rows (64:
  /// 50,257 -> 50,304; a GPU's matrix units like the round number), the
  /// extra rows zeros. Parameters, state dicts, logits, the loss and
  /// sampling see only the V real rows; forward() and generation compute
  /// the V rows alone. 1: no padding. Not with an adapter on out_head
  /// (LoRA's "out_head" target), where the head computes V rows.
  TORCH_ARG(int64_t, vocab_pad_to) = 1;

 public:
  /// One block's options (every block is alike).
  TransformerBlockOptions block() const;
};

/// The model a config describes ([model] keys).
GPTModelOptions model_options(const ModelConfig& m);

/// Throws ConfigError when a module name in `o` is not registered (checked
/// before any data is read, so a typo fails fast).
void check_module_names(const GPTModelOptions& o);

///   torch::manual_seed(123);
///   GPTModel gpt(GPTModelOptions(50257, 1024, 768).n_layers(12)
///       .n_heads(12));
///   gpt(ids) // (2, 4) int64 -> (2, 4, 50257) logits
class GPTModelImpl : public torch::nn::Module {
 public:
  /// Throws ConfigError for an unknown module name, c10::ValueError for
  /// emb_dim % n_heads != 0, n_layers < 0, or tie_weights with an embedding
  /// lacking tok_emb.
  explicit GPTModelImpl(GPTModelOptions options);

  /// (B, T) int64 ids -> (B, T, V) float logits. The input embedding
  /// checks rank, dtype, T <= context_length and ids in [0, V).
  torch::Tensor forward(const torch::Tensor& ids);

  /// forward() for lm_loss: the logits in the dtype the head computed them
  /// in, bfloat16 under bf16 precision on the CPU (lm_loss then reads them
  /// without a (B, T, V) fp32 copy: nn/cross_entropy.hpp), float otherwise.
  /// With vocab_pad_to, (B, T, head_rows()) and the padded columns -inf: a
  /// softmax over them is the softmax over the real V (exp(-inf) = 0), and
  /// they take no gradient. lm_loss does not check targets against V: a
  /// target among the padded columns gives an infinite loss, not ATen's
  /// "Target out of bounds" (the trainer checks its data's ids against
  /// vocab_size when it loads them).
  torch::Tensor forward_for_loss(const torch::Tensor& ids);

  /// How many rows the head's product computes: V rounded up to
  /// vocab_pad_to (the language-model head without an adapter), else its
  /// output size.
  int64_t head_rows() const;

  /// forward(ids)'s last position, (B, 1, V) float logits, for a reader of
  /// that position alone (a classifier: the book's chapter 6): the last
  /// block attends from the last position only (nn/last_position.hpp), and
  /// the final norm and the head see it alone. Within rounding of forward()
  /// (fewer rows in a product round differently). The whole forward() when
  /// dropout is on in training (its random draws are the book's) or the
  /// last block's attention is not a LastPositionAttention.
  torch::Tensor forward_last(const torch::Tensor& ids);

  /// forward() that also offers each module's output to `acts` under its
  /// name (dump_points()).
  torch::Tensor forward_with(const torch::Tensor& ids, Activations& acts);

  /// Whether forward_cached() works: the input embedding is a
  /// PositionedEmbedding and every block's attention a CachedAttention.
  bool supports_kv_cache() const;

  /// (B, T) int64 ids at positions cache.pos..cache.pos+T-1 -> (B, 1, V)
  /// logits of the last of them, keys and values of all T appended to
  /// `cache` (a KVCache(n_layers)). For generation: call in eval mode
  /// without grad. Throws c10::Error when cache.pos + T > context_length,
  /// ember::Error when !supports_kv_cache().
  torch::Tensor forward_cached(const torch::Tensor& ids, KVCache& cache);

  /// Names forward_with() offers, in order: "drop_emb", then for each
  /// block i "trf_blocks.i.norm1", ".att", ".norm2", ".ff", "trf_blocks.i",
  /// then "final_norm", "out_head".
  std::vector<std::string> dump_points() const;

  /// The book's `model.out_head = torch.nn.Linear(emb_dim, num_classes)`
  /// after the model was built: out_head's weight and bias drawn again
  /// (kaiming_uniform_, then the bias), as a new Linear draws them. For a
  /// classifier (num_classes > 0) only.
  void reset_head();

  const GPTModelOptions& options() const {
    return options_;
  }

  /// The precision forward(), forward_with() and forward_cached() compute
  /// in (nn/precision.hpp; fp32 by default): bf16 runs them under autocast
  /// on the input's device; the logits they return are fp32 either way.
  void set_precision(Precision p) {
    precision_ = p;
  }
  Precision precision() const {
    return precision_;
  }

  /// How many leading blocks a PrefixCache may hold (nn/prefix_cache.hpp):
  /// those before the first block with a parameter that takes a gradient,
  /// when the input embedding takes none and drop_rate is 0 (dropout would
  /// make their outputs random in training); 0 otherwise.
  int64_t frozen_prefix() const;

  /// forward() takes the first cache->blocks() blocks' outputs from `cache`
  /// (nullptr: none). Throws c10::Error when they are not all frozen
  /// (frozen_prefix()); call after the parameters are frozen and loaded.
  void set_prefix_cache(std::shared_ptr<PrefixCache> cache);
  const std::shared_ptr<PrefixCache>& prefix_cache() const {
    return prefix_cache_;
  }

  torch::nn::AnyModule embedding;  ///< children registered at the top level
  Dropout drop_emb{nullptr};
  torch::nn::ModuleList trf_blocks{nullptr};  ///< of TransformerBlock
  torch::nn::AnyModule final_norm;
  torch::nn::Linear out_head{nullptr};

 private:
  void register_embedding();
  /// (B, T, D) -> logits: (B, T, head_rows()) with the padding -inf when
  /// `padded`, (B, T, V) otherwise (no padded product).
  torch::Tensor head(
      const torch::Tensor& x, bool fp32_logits = true, bool padded = false);
  torch::Tensor stream(const torch::Tensor& ids, size_t until);
  torch::Tensor run_prefix(const torch::Tensor& ids, int64_t blocks);
  /// How many leading blocks the prefix cache serves (0 without one).
  size_t cached_blocks() const;

  GPTModelOptions options_;
  torch::Tensor tied_weight_;  // (V, D) tok_emb.weight when tied
  Precision precision_ = Precision::fp32;
  std::shared_ptr<PrefixCache> prefix_cache_;
};

TORCH_MODULE(GPTModel);

/// The book's chapter-6 calc_loss_batch: cross-entropy of the last
/// position's logits (B, T, C) -> (B, C) against the labels (B); mean.
torch::Tensor last_token_loss(
    const torch::Tensor& logits, const torch::Tensor& labels);

/// The book's calc_loss_batch: cross-entropy of logits.flatten(0, 1) (B*T, V)
/// against targets.flatten() (B*T), mean over the tokens whose target is
/// not -100 (cross_entropy's default ignore_index, which the book's
/// chapter-7 batches use for padding); a 0-dim float tensor. bf16 CPU
/// logits (GPTModel::forward_for_loss) take fused_cross_entropy
/// (nn/cross_entropy.hpp); any other, ATen's cross_entropy.
torch::Tensor lm_loss(
    const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace ember

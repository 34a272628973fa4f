#include "ember/nn/embedding_lm.hpp"

#include <c10/util/Exception.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/loss.h>

#include <ember/nn/registry.hpp>

namespace ember {

EmbeddingLMImpl::EmbeddingLMImpl(EmbeddingLMOptions o) : options_(o) {
  TORCH_CHECK_VALUE(
      o.n_layers() == 0,
      "EmbeddingLM: n_layers must be 0 until transformer blocks land (got ",
      o.n_layers(),
      ")");
  // Order matters: it is the order of the random draws (GPTModel.__init__).
  embedding = make_input_embedding(
      o.pos_encoding(), {o.vocab_size(), o.context_length(), o.emb_dim()});
  register_module("embedding", embedding.ptr());
  drop_emb = register_module(
      "drop_emb", torch::nn::Dropout(torch::nn::DropoutOptions(o.drop_rate())));
  // The slot blocks plug into: n_layers modules appended here, in order.
  trf_blocks = register_module("trf_blocks", torch::nn::Sequential());
  final_norm = register_module(
      "final_norm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.emb_dim()})));
  // Built even when tied so the kaiming_uniform_ draws match PyTorch's
  // `model.out_head.weight = model.tok_emb.weight` after construction.
  out_head = torch::nn::Linear(
      torch::nn::LinearOptions(o.emb_dim(), o.vocab_size()).bias(false));
  if (o.tie_weights()) {
    // find() points into the dict: keep it alive (ASan found the pointer
    // into a destroyed temporary here).
    const auto params = embedding.ptr()->named_parameters();
    const auto* tok = params.find("tok_emb.weight");
    TORCH_CHECK_VALUE(
        tok != nullptr,
        "EmbeddingLM: tie_weights needs an input embedding with a "
        "tok_emb.weight parameter ('",
        o.pos_encoding(),
        "' has none)");
    tied_weight_ = *tok;
  } else {
    register_module("out_head", out_head);
  }
}

torch::Tensor EmbeddingLMImpl::forward(const torch::Tensor& ids) {
  // (B, T) -> (B, T, D)
  auto x = embedding.forward(ids);
  x = drop_emb(x);
  if (!trf_blocks->is_empty()) x = trf_blocks->forward(x);
  x = final_norm(x);
  // (B, T, D) -> (B, T, V)
  if (tied_weight_.defined())
    return torch::nn::functional::linear(x, tied_weight_);
  return out_head(x);
}

torch::Tensor lm_loss(
    const torch::Tensor& logits, const torch::Tensor& targets) {
  // (B, T, V) -> (B*T, V) against (B*T)
  return torch::nn::functional::cross_entropy(
      logits.flatten(0, 1), targets.flatten());
}

}  // namespace ember

#include "ember/nn/gpt_model.hpp"

#include <limits>

#include <ATen/ops/constant_pad_nd.h>
#include <c10/util/Exception.h>
#include <fmt/core.h>
#include <torch/nn/functional/linear.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <ember/config/config.hpp>
#include <ember/nn/adapter.hpp>
#include <ember/nn/cross_entropy.hpp>
#include <ember/nn/kv_cache.hpp>
#include <ember/nn/registry.hpp>
#include <ember/util/error.hpp>

namespace ember {

TransformerBlockOptions GPTModelOptions::block() const {
  return TransformerBlockOptions(emb_dim(), context_length(), n_heads())
      .drop_rate(drop_rate())
      .qkv_bias(qkv_bias())
      .norm(norm())
      .attention(attention())
      .feed_forward(feed_forward());
}

GPTModelOptions model_options(const ModelConfig& m) {
  return GPTModelOptions(m.vocab_size, m.context_length, m.emb_dim)
      .n_layers(m.n_layers)
      .n_heads(m.n_heads)
      .drop_rate(m.drop_rate)
      .qkv_bias(m.qkv_bias)
      .tie_weights(m.tie_weights)
      .pos_encoding(m.pos_encoding)
      .norm(m.norm)
      .attention(m.attention)
      .feed_forward(m.feed_forward)
      .num_classes(m.head == "classifier" ? m.num_classes : 0)
      .vocab_pad_to(m.vocab_pad_to);
}

void check_module_names(const GPTModelOptions& o) {
  input_embeddings().check(o.pos_encoding());
  norms().check(o.norm());
  if (o.n_layers() > 0) {
    attentions().check(o.attention());
    feed_forwards().check(o.feed_forward());
  }
}

GPTModelImpl::GPTModelImpl(GPTModelOptions o) : options_(o) {
  TORCH_CHECK_VALUE(
      o.n_layers() >= 0,
      "GPTModel: n_layers must be >= 0 (got ",
      o.n_layers(),
      ")");
  TORCH_CHECK_VALUE(
      o.vocab_pad_to() >= 1,
      "GPTModel: vocab_pad_to must be >= 1 (got ",
      o.vocab_pad_to(),
      ")");
  check_module_names(o);
  // Order matters: it is the order of the random draws (GPTModel.__init__):
  // tok_emb, pos_emb, drop_emb, trf_blocks, final_norm, out_head.
  embedding = input_embeddings().make(
      o.pos_encoding(), {o.vocab_size(), o.context_length(), o.emb_dim()});
  register_embedding();
  drop_emb = register_module(
      "drop_emb", Dropout(torch::nn::DropoutOptions(o.drop_rate())));
  trf_blocks = register_module("trf_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.n_layers(); ++i)
    trf_blocks->push_back(TransformerBlock(o.block()));
  BlockSpec norm_spec;
  norm_spec.emb_dim = o.emb_dim();
  final_norm = norms().make(o.norm(), norm_spec);
  register_module("final_norm", final_norm.ptr());
  if (o.num_classes() > 0) {
    TORCH_CHECK_VALUE(
        !o.tie_weights(),
        "GPTModel: a classifier head (num_classes ",
        o.num_classes(),
        ") cannot be tied to the token embedding");
    out_head = register_module(
        "out_head",
        torch::nn::Linear(
            torch::nn::LinearOptions(o.emb_dim(), o.num_classes()).bias(true)));
    return;
  }
  // Built even when tied so the kaiming_uniform_ draws match PyTorch's
  // `model.out_head.weight = model.tok_emb.weight` after construction.
  out_head = torch::nn::Linear(
      torch::nn::LinearOptions(o.emb_dim(), o.vocab_size()).bias(false));
  if (o.tie_weights()) {
    // find() points into the dict: keep it alive (ASan found a pointer
    // into a destroyed temporary here once).
    const auto params = named_parameters();
    const auto* tok = params.find("tok_emb.weight");
    TORCH_CHECK_VALUE(
        tok != nullptr,
        "GPTModel: tie_weights needs an input embedding with a "
        "tok_emb.weight parameter ('",
        o.pos_encoding(),
        "' has none)");
    tied_weight_ = *tok;
  } else {
    register_module("out_head", out_head);
  }
}

// The book's GPTModel holds tok_emb and pos_emb itself: the embedding's
// children, parameters and buffers are registered here under their own
// names (the same tensors, so .to() and the optimizer reach them once).
void GPTModelImpl::register_embedding() {
  auto& m = *embedding.ptr();
  for (const auto& p : m.named_parameters(/*recurse=*/false))
    register_parameter(p.key(), p.value(), p.value().requires_grad());
  for (const auto& b : m.named_buffers(/*recurse=*/false))
    register_buffer(b.key(), b.value());
  for (const auto& c : m.named_children()) register_module(c.key(), c.value());
}

int64_t GPTModelImpl::head_rows() const {
  const int64_t rows = out_head->weight.size(0);
  if (options_.num_classes() > 0 || adapter_of(*out_head) != nullptr)
    return rows;
  const int64_t to = options_.vocab_pad_to();
  return (rows + to - 1) / to * to;
}

torch::Tensor GPTModelImpl::head(
    const torch::Tensor& x, bool fp32_logits, bool padded) {
  // (B, T, D) -> (B, T, V); fp32 logits under autocast too unless asked
  // (the loss and sampling read them in fp32, as autocast's cross_entropy
  // would).
  const auto& weight = tied_weight_.defined() ? tied_weight_ : out_head->weight;
  const int64_t v = weight.size(0);
  const int64_t pad = padded ? head_rows() - v : 0;
  torch::Tensor logits;
  if (pad > 0) {
    // (B, T, D) -> (B, T, V + pad): zero rows below the weight (a copy a
    // step; autograd hands the weight the gradient of its own rows), the
    // padded columns -inf.
    logits = torch::nn::functional::linear(
        x, at::constant_pad_nd(weight, {0, 0, 0, pad}));
    logits.narrow(-1, v, pad).fill_(-std::numeric_limits<double>::infinity());
  } else {
    logits = tied_weight_.defined()
                 ? torch::nn::functional::linear(x, tied_weight_)
                 : adapted(out_head, x);
  }
  if (precision_ == Precision::fp32 || !fp32_logits) return logits;
  return logits.to(at::kFloat);
}

void GPTModelImpl::reset_head() {
  TORCH_CHECK(
      options_.num_classes() > 0, "GPTModel: reset_head needs a classifier");
  out_head->reset_parameters();
}

torch::Tensor GPTModelImpl::forward(const torch::Tensor& ids) {
  const AutocastScope autocast(precision_, ids.device());
  return head(final_norm.forward(stream(ids, trf_blocks->size())));
}

torch::Tensor GPTModelImpl::forward_for_loss(const torch::Tensor& ids) {
  const AutocastScope autocast(precision_, ids.device());
  return head(
      final_norm.forward(stream(ids, trf_blocks->size())),
      /*fp32_logits=*/!ids.device().is_cpu(),
      /*padded=*/true);
}

size_t GPTModelImpl::cached_blocks() const {
  return static_cast<size_t>(prefix_cache_ ? prefix_cache_->blocks() : 0);
}

torch::Tensor GPTModelImpl::forward_last(const torch::Tensor& ids) {
  const size_t n = trf_blocks->size();
  const size_t first = cached_blocks();
  auto* last =
      n > first ? trf_blocks[n - 1]->as<TransformerBlockImpl>() : nullptr;
  const bool draws = is_training() && options_.drop_rate() > 0.0;
  if (draws || (last != nullptr && !last->supports_last_position())) {
    // Dropout draws for every position (the book's random numbers), or an
    // attention that cannot attend from the last alone.
    auto logits = forward(ids);
    return logits.narrow(1, logits.size(1) - 1, 1);
  }
  const AutocastScope autocast(precision_, ids.device());
  // (B, T) -> (B, 1, D): the last block at the last position only, or, when
  // every block is frozen and cached, the stream's last position.
  auto x = last != nullptr ? last->forward_last(stream(ids, n - 1))
                           : stream(ids, n).narrow(1, ids.size(1) - 1, 1);
  return head(final_norm.forward(x));
}

// The residual stream entering block `until` (B, T, D): the embedding, then
// blocks [0, until), the frozen ones' outputs from the prefix cache.
torch::Tensor GPTModelImpl::stream(const torch::Tensor& ids, size_t until) {
  const size_t first = cached_blocks();
  TORCH_CHECK(until >= first, "GPTModel: stream ends inside the cached blocks");
  // (B, T) -> (B, T, D)
  auto x = first > 0
               ? prefix_cache_->rows(
                     ids,
                     [&](const at::Tensor& missed) {
                       return run_prefix(missed, static_cast<int64_t>(first));
                     })
               : drop_emb(embedding.forward(ids));
  for (size_t i = first; i < until; ++i)
    x = trf_blocks[i]->as<TransformerBlockImpl>()->forward(x);
  return x;
}

// The embedding and the first `blocks` blocks, without autograd (they are
// frozen: frozen_prefix()).
torch::Tensor GPTModelImpl::run_prefix(
    const torch::Tensor& ids, int64_t blocks) {
  const torch::NoGradGuard no_grad;
  auto x = drop_emb(embedding.forward(ids));
  for (int64_t i = 0; i < blocks; ++i)
    x = trf_blocks[i]->as<TransformerBlockImpl>()->forward(x);
  return x;
}

namespace {

bool any_trainable(const torch::nn::Module& m, bool recurse) {
  for (const auto& p : m.parameters(recurse)) {
    if (p.requires_grad()) return true;
  }
  return false;
}

}  // namespace

int64_t GPTModelImpl::frozen_prefix() const {
  // The embedding's parameters are registered here (register_embedding).
  if (options_.drop_rate() != 0.0 || any_trainable(*this, false) ||
      any_trainable(*embedding.ptr(), true))
    return 0;
  int64_t n = 0;
  for (const auto& block : *trf_blocks) {
    if (any_trainable(*block, true)) break;
    ++n;
  }
  return n;
}

void GPTModelImpl::set_prefix_cache(std::shared_ptr<PrefixCache> cache) {
  TORCH_CHECK(
      !cache || cache->blocks() <= frozen_prefix(),
      "GPTModel: a prefix cache of ",
      cache ? cache->blocks() : 0,
      " blocks, but only the first ",
      frozen_prefix(),
      " are frozen and free of dropout");
  prefix_cache_ = std::move(cache);
}

torch::Tensor GPTModelImpl::forward_with(
    const torch::Tensor& ids, Activations& acts) {
  const AutocastScope autocast(precision_, ids.device());
  auto x = drop_emb(embedding.forward(ids));
  acts.offer("drop_emb", x);
  for (size_t i = 0; i < trf_blocks->size(); ++i) {
    x = trf_blocks[i]->as<TransformerBlockImpl>()->forward_with(
        x, acts, "trf_blocks." + std::to_string(i));
  }
  x = final_norm.forward(x);
  acts.offer("final_norm", x);
  auto logits = head(x);
  acts.offer("out_head", logits);
  return logits;
}

bool GPTModelImpl::supports_kv_cache() const {
  if (dynamic_cast<PositionedEmbedding*>(embedding.ptr().get()) == nullptr)
    return false;
  for (const auto& block : *trf_blocks) {
    if (!block->as<TransformerBlockImpl>()->supports_kv_cache()) return false;
  }
  return true;
}

torch::Tensor GPTModelImpl::forward_cached(
    const torch::Tensor& ids, KVCache& cache) {
  auto* positioned = dynamic_cast<PositionedEmbedding*>(embedding.ptr().get());
  if (positioned == nullptr) {
    throw Error(fmt::format(
        "model.pos_encoding '{}' cannot embed at a position offset (it does "
        "not implement PositionedEmbedding, nn/kv_cache.hpp); hint: generate "
        "with --no-kv-cache",
        options_.pos_encoding()));
  }
  TORCH_CHECK(
      cache.layers.size() == trf_blocks->size(),
      "GPTModel: a KV cache of ",
      cache.layers.size(),
      " layers for a model of ",
      trf_blocks->size());
  const AutocastScope autocast(precision_, ids.device());
  // (B, T) -> (B, T, D)
  auto x = drop_emb(positioned->forward_at(ids, cache.pos));
  for (size_t i = 0; i < trf_blocks->size(); ++i) {
    x = trf_blocks[i]->as<TransformerBlockImpl>()->forward_cached(
        x, cache.layers[i]);
  }
  cache.pos += ids.size(1);
  // Only the last position's logits: (B, 1, D) -> (B, 1, V)
  return head(final_norm.forward(x.narrow(1, x.size(1) - 1, 1)));
}

std::vector<std::string> GPTModelImpl::dump_points() const {
  std::vector<std::string> out = {"drop_emb"};
  for (size_t i = 0; i < trf_blocks->size(); ++i) {
    for (auto& name :
         TransformerBlockImpl::dump_points("trf_blocks." + std::to_string(i)))
      out.push_back(std::move(name));
  }
  out.emplace_back("final_norm");
  out.emplace_back("out_head");
  return out;
}

torch::Tensor last_token_loss(
    const torch::Tensor& logits, const torch::Tensor& labels) {
  // (B, T, C) -> (B, C) against (B)
  return torch::nn::functional::cross_entropy(logits.select(1, -1), labels);
}

torch::Tensor lm_loss(
    const torch::Tensor& logits, const torch::Tensor& targets) {
  // (B, T, V) -> (B*T, V) against (B*T)
  if (logits.scalar_type() == at::kBFloat16 && logits.device().is_cpu())
    return fused_cross_entropy(logits.flatten(0, 1), targets.flatten());
  return torch::nn::functional::cross_entropy(
      logits.flatten(0, 1), targets.flatten());
}

}  // namespace ember

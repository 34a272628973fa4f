#include "ember/nn/transformer_block.hpp"

#include <c10/util/Exception.h>
#include <fmt/core.h>

#include <ember/nn/last_position.hpp>
#include <ember/nn/registry.hpp>
#include <ember/util/error.hpp>

namespace ember {

TransformerBlockImpl::TransformerBlockImpl(TransformerBlockOptions options)
    : options_(options) {
  const auto& o = options_;
  TORCH_CHECK_VALUE(
      o.n_heads() >= 1 && o.emb_dim() % o.n_heads() == 0,
      "TransformerBlock: emb_dim must be divisible by n_heads (got emb_dim ",
      o.emb_dim(),
      ", n_heads ",
      o.n_heads(),
      ")");
  BlockSpec spec;
  spec.emb_dim = o.emb_dim();
  spec.context_length = o.context_length();
  spec.n_heads = o.n_heads();
  spec.drop_rate = o.drop_rate();
  spec.qkv_bias = o.qkv_bias();
  // The book's order: att, ff, norm1, norm2, drop_shortcut (one statement
  // each: the order of the random draws).
  att = attentions().make(o.attention(), spec);
  register_module("att", att.ptr());
  ff = feed_forwards().make(o.feed_forward(), spec);
  register_module("ff", ff.ptr());
  norm1 = norms().make(o.norm(), spec);
  register_module("norm1", norm1.ptr());
  norm2 = norms().make(o.norm(), spec);
  register_module("norm2", norm2.ptr());
  drop_shortcut = register_module(
      "drop_shortcut", Dropout(torch::nn::DropoutOptions(o.drop_rate())));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x) {
  // (B, T, D) -> (B, T, D), twice, each with a shortcut.
  auto y = x + drop_shortcut(att.forward(norm1.forward(x)));
  return y + drop_shortcut(ff.forward(norm2.forward(y)));
}

bool TransformerBlockImpl::supports_last_position() const {
  return dynamic_cast<LastPositionAttention*>(att.ptr().get()) != nullptr;
}

torch::Tensor TransformerBlockImpl::forward_last(const torch::Tensor& x) {
  auto* last = dynamic_cast<LastPositionAttention*>(att.ptr().get());
  if (last == nullptr) {
    throw Error(fmt::format(
        "model.attention '{}' cannot attend from the last position alone (it "
        "does not implement LastPositionAttention, nn/last_position.hpp)",
        options_.attention()));
  }
  const auto tail = x.narrow(1, x.size(1) - 1, 1);
  auto y = tail + drop_shortcut(last->forward_last(norm1.forward(x)));
  return y + drop_shortcut(ff.forward(norm2.forward(y)));
}

bool TransformerBlockImpl::supports_kv_cache() const {
  return dynamic_cast<CachedAttention*>(att.ptr().get()) != nullptr;
}

torch::Tensor TransformerBlockImpl::forward_cached(
    const torch::Tensor& x, LayerCache& cache) {
  auto* cached = dynamic_cast<CachedAttention*>(att.ptr().get());
  if (cached == nullptr) {
    throw Error(fmt::format(
        "model.attention '{}' has no KV cache (it does not implement "
        "CachedAttention, nn/kv_cache.hpp); hint: generate with "
        "--no-kv-cache",
        options_.attention()));
  }
  auto y = x + drop_shortcut(cached->forward_cached(norm1.forward(x), cache));
  return y + drop_shortcut(ff.forward(norm2.forward(y)));
}

torch::Tensor TransformerBlockImpl::forward_with(
    const torch::Tensor& x, Activations& acts, const std::string& prefix) {
  const auto n1 = norm1.forward(x);
  acts.offer(prefix + ".norm1", n1);
  const auto a = att.forward(n1);
  acts.offer(prefix + ".att", a);
  const auto y = x + drop_shortcut(a);
  const auto n2 = norm2.forward(y);
  acts.offer(prefix + ".norm2", n2);
  const auto f = ff.forward(n2);
  acts.offer(prefix + ".ff", f);
  auto out = y + drop_shortcut(f);
  acts.offer(prefix, out);
  return out;
}

std::vector<std::string> TransformerBlockImpl::dump_points(
    const std::string& prefix) {
  return {
      prefix + ".norm1",
      prefix + ".att",
      prefix + ".norm2",
      prefix + ".ff",
      prefix};
}

}  // namespace ember

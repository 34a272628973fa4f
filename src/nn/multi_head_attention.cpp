#include "ember/nn/multi_head_attention.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ops/empty.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/triu.h>
#include <c10/util/Exception.h>

#include <ember/nn/adapter.hpp>
#include <ember/nn/causal_attention.hpp>
#include <ember/nn/registry.hpp>

namespace ember {

MultiHeadAttentionImpl::MultiHeadAttentionImpl(
    MultiHeadAttentionOptions options)
    : options_(options) {
  const auto& o = options_;
  TORCH_CHECK_VALUE(
      o.d_in() >= 1 && o.d_out() >= 1 && o.context_length() >= 1 &&
          o.num_heads() >= 1,
      "MultiHeadAttention: d_in, d_out, context_length and num_heads must be "
      "at least 1 (got ",
      o.d_in(),
      ", ",
      o.d_out(),
      ", ",
      o.context_length(),
      ", ",
      o.num_heads(),
      ")");
  TORCH_CHECK_VALUE(
      o.d_out() % o.num_heads() == 0,
      "MultiHeadAttention: d_out must be divisible by num_heads (got d_out ",
      o.d_out(),
      ", num_heads ",
      o.num_heads(),
      ")");
  // The book's order of construction, hence of the random draws.
  const auto qkv = [&] {
    return torch::nn::Linear(
        torch::nn::LinearOptions(o.d_in(), o.d_out()).bias(o.qkv_bias()));
  };
  W_query = register_module("W_query", qkv());
  W_key = register_module("W_key", qkv());
  W_value = register_module("W_value", qkv());
  out_proj =
      register_module("out_proj", torch::nn::Linear(o.d_out(), o.d_out()));
  dropout = register_module(
      "dropout", Dropout(torch::nn::DropoutOptions(o.dropout())));
  mask = register_buffer(
      "mask", at::triu(at::ones({o.context_length(), o.context_length()}), 1));
}

int64_t MultiHeadAttentionImpl::check_input(
    const torch::Tensor& x, int64_t past) const {
  const auto& o = options_;
  TORCH_CHECK(
      x.dim() == 3 && x.size(2) == o.d_in(),
      "MultiHeadAttention: input must be (B, T, d_in) with d_in ",
      o.d_in(),
      " (got shape ",
      x.sizes(),
      ")");
  const int64_t t = x.size(1);
  TORCH_CHECK(
      past + t <= o.context_length(),
      "MultiHeadAttention: sequence longer than context_length (got T = ",
      past + t,
      ", expected <= ",
      o.context_length(),
      ")");
  return t;
}

torch::Tensor MultiHeadAttentionImpl::heads(
    torch::nn::Linear& linear, const torch::Tensor& x) {
  const int64_t h = options_.num_heads();
  // (B, T, d_in) -> (B, T, D) -> (B, T, H, h) -> (B, H, T, h)
  return adapted(linear, x)
      .view({x.size(0), x.size(1), h, options_.d_out() / h})
      .transpose(1, 2);
}

torch::Tensor MultiHeadAttentionImpl::attend(
    const torch::Tensor& queries,
    const torch::Tensor& keys,
    const torch::Tensor& values,
    int64_t past) {
  // (B, H, T, h) -> (B, T, H, h) -> (B, T, D)
  const auto context =
      (options_.fused() && past == 0
           ? causal_attention(
                 queries,
                 keys,
                 values,
                 is_training() ? options_.dropout() : 0.0)
           : masked_attention(queries, keys, values, past))
          .transpose(1, 2)
          .contiguous()
          .view({queries.size(0), queries.size(2), options_.d_out()});
  return adapted(out_proj, context);
}

torch::Tensor MultiHeadAttentionImpl::masked_attention(
    const torch::Tensor& queries,
    const torch::Tensor& keys,
    const torch::Tensor& values,
    int64_t past) {
  const int64_t t = queries.size(2);
  const int64_t head_dim = queries.size(3);
  // (B, H, T, h) @ (B, H, h, P+T) -> (B, H, T, P+T)
  auto scores = at::matmul(queries, keys.transpose(2, 3));
  const auto mask_bool =
      mask.slice(0, past, past + t).slice(1, 0, past + t).to(at::kBool);
  // The book's masked_fill_, then / sqrt(head_dim) in place (the same
  // rounding, one (B, H, T, T) buffer fewer), then softmax.
  scores.masked_fill_(mask_bool, -std::numeric_limits<double>::infinity())
      .div_(std::sqrt(static_cast<double>(head_dim)));
  auto weights = at::softmax(scores, -1);
  weights = dropout(weights);
  // (B, H, T, P+T) @ (B, H, P+T, h) -> (B, H, T, h)
  return at::matmul(weights, values);
}

torch::Tensor MultiHeadAttentionImpl::forward(const torch::Tensor& x) {
  check_input(x, 0);
  const auto keys = heads(W_key, x);
  const auto queries = heads(W_query, x);
  const auto values = heads(W_value, x);
  return attend(queries, keys, values, 0);
}

torch::Tensor MultiHeadAttentionImpl::forward_last(const torch::Tensor& x) {
  const int64_t t = check_input(x, 0);
  // The book's order: keys, queries, values.
  const auto keys = heads(W_key, x);
  const auto queries = heads(W_query, x.narrow(1, t - 1, 1));
  const auto values = heads(W_value, x);
  return attend(queries, keys, values, t - 1);
}

torch::Tensor MultiHeadAttentionImpl::forward_cached(
    const torch::Tensor& x, LayerCache& cache) {
  const int64_t past = cache.len;
  const int64_t t = check_input(x, past);
  const int64_t h = options_.num_heads();
  if (!cache.k.defined() || past == 0) {
    // (B, H, C, h), reused across resets while B and the device hold.
    const std::vector<int64_t> shape = {
        x.size(0), h, options_.context_length(), options_.d_out() / h};
    if (!cache.k.defined() || !cache.k.sizes().equals(shape) ||
        cache.k.device() != x.device()) {
      cache.k = at::empty(shape, x.options());
      cache.v = at::empty(shape, x.options());
    }
  }
  TORCH_CHECK(
      cache.k.size(0) == x.size(0),
      "MultiHeadAttention: batch of ",
      x.size(0),
      " rows against a cache of ",
      cache.k.size(0));
  // The book's order: keys, queries, values.
  cache.k.narrow(2, past, t).copy_(heads(W_key, x));
  const auto queries = heads(W_query, x);
  cache.v.narrow(2, past, t).copy_(heads(W_value, x));
  cache.len = past + t;
  return attend(
      queries,
      cache.k.narrow(2, 0, past + t),
      cache.v.narrow(2, 0, past + t),
      past);
}

// The book's MultiHeadAttention: the default of model.attention.
EMBER_REGISTER_MODULE(attentions, multihead, [](const BlockSpec& s) {
  return torch::nn::AnyModule(
      MultiHeadAttention(MultiHeadAttentionOptions(
                             s.emb_dim, s.emb_dim, s.context_length, s.n_heads)
                             .dropout(s.drop_rate)
                             .qkv_bias(s.qkv_bias)));
});

// The same module, its forward through scaled_dot_product_attention.
EMBER_REGISTER_MODULE(attentions, fused, [](const BlockSpec& s) {
  return torch::nn::AnyModule(
      MultiHeadAttention(MultiHeadAttentionOptions(
                             s.emb_dim, s.emb_dim, s.context_length, s.n_heads)
                             .dropout(s.drop_rate)
                             .qkv_bias(s.qkv_bias)
                             .fused(true)));
});

}  // namespace ember

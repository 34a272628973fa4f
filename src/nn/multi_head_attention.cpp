#include "ember/nn/multi_head_attention.hpp"

#include <cmath>
#include <limits>

#include <ATen/ops/ones.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/triu.h>
#include <c10/util/Exception.h>

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
      "dropout", torch::nn::Dropout(torch::nn::DropoutOptions(o.dropout())));
  mask = register_buffer(
      "mask", at::triu(at::ones({o.context_length(), o.context_length()}), 1));
}

torch::Tensor MultiHeadAttentionImpl::forward(const torch::Tensor& x) {
  const auto& o = options_;
  TORCH_CHECK(
      x.dim() == 3 && x.size(2) == o.d_in(),
      "MultiHeadAttention: input must be (B, T, d_in) with d_in ",
      o.d_in(),
      " (got shape ",
      x.sizes(),
      ")");
  const int64_t b = x.size(0);
  const int64_t t = x.size(1);
  TORCH_CHECK(
      t <= o.context_length(),
      "MultiHeadAttention: sequence longer than context_length (got T = ",
      t,
      ", expected <= ",
      o.context_length(),
      ")");
  const int64_t h = o.num_heads();
  const int64_t head_dim = o.d_out() / h;
  // (B, T, d_in) -> (B, T, D) -> (B, T, H, h) -> (B, H, T, h)
  const auto split = [&](const torch::Tensor& y) {
    return y.view({b, t, h, head_dim}).transpose(1, 2);
  };
  const auto keys = split(W_key(x));
  const auto queries = split(W_query(x));
  const auto values = split(W_value(x));
  // (B, H, T, h) @ (B, H, h, T) -> (B, H, T, T)
  auto scores = at::matmul(queries, keys.transpose(2, 3));
  const auto mask_bool = mask.slice(0, 0, t).slice(1, 0, t).to(at::kBool);
  // The book's masked_fill_, then / sqrt(head_dim) in place (the same
  // rounding, one (B, H, T, T) buffer fewer), then softmax.
  scores.masked_fill_(mask_bool, -std::numeric_limits<double>::infinity())
      .div_(std::sqrt(static_cast<double>(head_dim)));
  auto weights = at::softmax(scores, -1);
  weights = dropout(weights);
  // (B, H, T, T) @ (B, H, T, h) -> (B, H, T, h) -> (B, T, H, h) -> (B, T, D)
  const auto context = at::matmul(weights, values)
                           .transpose(1, 2)
                           .contiguous()
                           .view({b, t, o.d_out()});
  return out_proj(context);
}

// The book's MultiHeadAttention: the default of model.attention.
EMBER_REGISTER_MODULE(attentions, multihead, [](const BlockSpec& s) {
  return torch::nn::AnyModule(MultiHeadAttention(
      MultiHeadAttentionOptions(
          s.emb_dim, s.emb_dim, s.context_length, s.n_heads)
          .dropout(s.drop_rate)
          .qkv_bias(s.qkv_bias)));
});

}  // namespace ember

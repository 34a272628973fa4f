// Attention for a reader of the last position only: a classifier (the
// book's chapter 6 reads the last token's logits) needs, of the last block,
// the keys and values of every position but the query, the attention, the
// feed-forward, the final norm and the head of the last one alone. An
// attention module takes part by implementing LastPositionAttention (the
// book's MultiHeadAttention does); GPTModelImpl::forward_last falls back to
// the whole forward pass for one that does not.
// Dimensions: B batch, T tokens, D emb_dim.
#pragma once

#include <ATen/core/Tensor.h>

namespace ember {

class LastPositionAttention {
 public:
  virtual ~LastPositionAttention() = default;
  /// (B, T, D) -> (B, 1, D): forward(x)'s last position, which attends to
  /// all T.
  virtual at::Tensor forward_last(const at::Tensor& x) = 0;
};

}  // namespace ember

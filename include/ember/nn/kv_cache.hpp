// A key/value cache for generation (the book's bonus material on KV
// caching, ch04/03_kv-cache): each block's attention keeps the keys and
// values of the positions it has seen, so a step computes only the new
// token's. The interfaces below are how a registered module takes part:
// an input embedding that can place ids at a position offset
// (PositionedEmbedding) and an attention that reads and extends a cache
// (CachedAttention). The book's modules implement both; a model with a part
// that does not is run without a cache (GPTModelImpl::supports_kv_cache).
// Dimensions: B batch, T new tokens, P cached positions, C context_length,
// H heads, h head_dim, D emb_dim.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace ember {

/// One attention layer's cache: (B, H, C, h) buffers of which the first
/// `len` positions are filled; allocated by the attention on first use.
struct LayerCache {
  at::Tensor k;
  at::Tensor v;
  int64_t len = 0;
};

/// The cache of a whole model: one LayerCache per block and the number of
/// positions consumed.
struct KVCache {
  explicit KVCache(size_t n_layers) : layers(n_layers) {}
  /// Forgets every position (keeps the buffers for reuse).
  void reset() {
    for (auto& l : layers) l.len = 0;
    pos = 0;
  }
  std::vector<LayerCache> layers;
  int64_t pos = 0;
};

/// An input embedding that can embed ids at positions start..start+T-1.
class PositionedEmbedding {
 public:
  virtual ~PositionedEmbedding() = default;
  /// (B, T) int64 ids -> (B, T, D); throws c10::Error when start + T >
  /// context_length (and on the checks of forward()).
  virtual at::Tensor forward_at(const at::Tensor& ids, int64_t start) = 0;
};

/// An attention that attends from T new positions to the P cached ones and
/// themselves, appending their keys and values to the cache.
class CachedAttention {
 public:
  virtual ~CachedAttention() = default;
  /// (B, T, D) -> (B, T, D); throws c10::Error when P + T > context_length
  /// or B differs from the cache's.
  virtual at::Tensor forward_cached(const at::Tensor& x, LayerCache& cache) = 0;
};

}  // namespace ember

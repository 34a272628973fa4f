// The outputs of a model's frozen leading transformer blocks, kept per input
// row. When fine-tuning trains only the last blocks and the head (the book's
// chapter 6, train.trainable = "last_block" or "head"), the blocks before
// them are a fixed function of the ids: every epoch and every accuracy pass
// computes the same (T, D) rows again. A PrefixCache computes each distinct
// row once and hands it back after.
//
// The rows a batch misses are computed together, but each Linear takes them
// one at a time (RowAloneLinears): a BLAS product's rounding depends on how
// many rows it multiplies, so a row's values would otherwise depend on which
// rows shared its batch. This way a run gives the same numbers whether a
// row came from the cache or not, so resume and torchrun stay exact whatever
// the budget. The rows agree with a whole batch's product within rounding
// (about 1e-6 relative). Attention's products are per row already.
// Dimensions: B batch, M rows missed, T tokens, D emb_dim.
// Leaves out: eviction (rows beyond the budget are computed, not kept).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <ATen/core/Tensor.h>

namespace ember {

class PrefixCache {
 public:
  /// Counts since construction.
  struct Stats {
    int64_t hits = 0;    ///< rows handed back from the cache
    int64_t misses = 0;  ///< rows computed
    int64_t kept = 0;    ///< rows held
    int64_t bytes = 0;   ///< bytes held
  };

  /// Holds the outputs of the first `blocks` (>= 1) blocks, at most
  /// `budget_bytes` of them (0: none kept, each row still computed alone).
  PrefixCache(int64_t blocks, int64_t budget_bytes);

  int64_t blocks() const {
    return blocks_;
  }

  /// (B, T) int64 ids -> (B, T, D): for each row its kept output, else
  /// computed: compute(missed) of the (M, T) rows not kept, in batch order,
  /// -> (M, T, D), called under RowAloneLinears; each is kept while the
  /// budget lasts. Rows are keyed by their ids.
  at::Tensor rows(
      const at::Tensor& ids,
      const std::function<at::Tensor(const at::Tensor&)>& compute);

  const Stats& stats() const {
    return stats_;
  }

 private:
  at::Tensor compute_missed(
      const at::Tensor& ids,
      const std::vector<int64_t>& missed,
      const std::function<at::Tensor(const at::Tensor&)>& compute);
  void keep(
      std::vector<std::string>& keys,
      const std::vector<int64_t>& missed,
      std::vector<at::Tensor>& out,
      const at::Tensor& computed);

  int64_t blocks_;
  int64_t budget_;
  std::unordered_map<std::string, at::Tensor> kept_;
  Stats stats_;
};

/// While one lives on this thread, adapted() (nn/adapter.hpp), which every
/// Linear of the book's modules goes through, multiplies a (B, T, in) input
/// one (1, T, in) row at a time.
class RowAloneLinears {
 public:
  RowAloneLinears();
  ~RowAloneLinears();
  RowAloneLinears(const RowAloneLinears&) = delete;
  RowAloneLinears& operator=(const RowAloneLinears&) = delete;

 private:
  bool before_;
};

/// Whether a RowAloneLinears lives on this thread.
bool row_alone_linears();

}  // namespace ember

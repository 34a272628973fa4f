// What a Loader batches: a number of examples and a way to turn any of them
// into one batch (PyTorch's Dataset plus its collate_fn). One implementation
// per data format: the book's sliding windows (ch02, window_source.hpp) and
// its instruction entries (ch07, instruction_dataset.hpp). The Loader owns
// the order and the random draws; a source draws nothing.
#pragma once

#include <cstddef>
#include <cstdint>

#include <ATen/core/Tensor.h>

namespace ember {

/// One batch: (B, T) int64 inputs and targets, freshly allocated (not views
/// of the data). A target of -100 is ignored by the loss (cross_entropy's
/// ignore_index), as the book's instruction batches pad them.
struct Batch {
  at::Tensor inputs, targets;
};

class BatchSource {
 public:
  virtual ~BatchSource() = default;

  /// Number of examples (len(dataset)).
  virtual size_t size() const = 0;

  /// Examples indices[0..n) as one batch, in that order (collate_fn of
  /// [dataset[i] for i in indices]). Indices are < size(); n >= 1. Safe to
  /// call from several threads at once.
  virtual Batch collate(const int64_t* indices, int64_t n) const = 0;
};

}  // namespace ember

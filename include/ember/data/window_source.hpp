// The book's sliding windows (GptDataset) as a Loader's batch source: a
// batch of windows is two allocations and 2 * B row copies from the one
// token buffer (or from a memory-mapped token file), the targets being the
// inputs shifted by one.
#pragma once

#include <ember/data/batch_source.hpp>
#include <ember/data/gpt_dataset.hpp>

namespace ember {

class WindowSource final : public BatchSource {
 public:
  explicit WindowSource(GptDataset dataset);

  size_t size() const override {
    return dataset_.num_windows();
  }
  /// Windows indices[0..n): (n, max_length) inputs and targets on the
  /// dataset's device.
  Batch collate(const int64_t* indices, int64_t n) const override;

  const GptDataset& dataset() const {
    return dataset_;
  }

 private:
  Batch gather_rows(const int64_t* indices, int64_t n) const;
  Batch gather_mapped_rows(const int64_t* indices, int64_t n) const;

  GptDataset dataset_;
  at::Tensor inputs_, targets_;  // (W, T) views; in memory only
  bool fast_ = false;            // ids on the CPU: gather rows with memcpy
};

}  // namespace ember

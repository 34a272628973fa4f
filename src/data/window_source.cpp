// Notes (measured numbers are in bench/README.md):
// - On the CPU a batch is two at::empty and 2 * B row memcpys from the one
//   token buffer: 650,000-820,000 batches/s for batch 8 x 256, against
//   ~190,000 with two index_selects over the strided (W, T) window view.
//   Other devices take the index_select path.
// - A dataset over a memory-mapped token file gathers the same rows from the
//   mapping, widening uint16/uint32 to int64 row by row (the only copy).
#include "ember/data/window_source.hpp"

#include <cstring>
#include <utility>

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include <ember/text/mapped_token_file.hpp>

namespace ember {

WindowSource::WindowSource(GptDataset dataset) : dataset_(std::move(dataset)) {
  if (!dataset_.is_mapped()) {
    // GptDataset keeps ids contiguous int64; only the device can differ.
    fast_ = dataset_.ids().device().is_cpu();
    inputs_ = dataset_.inputs();
    targets_ = dataset_.targets();
  }
}

Batch WindowSource::collate(const int64_t* indices, int64_t n) const {
  if (dataset_.is_mapped()) return gather_mapped_rows(indices, n);
  if (fast_) return gather_rows(indices, n);
  const auto idx = at::from_blob(
                       const_cast<int64_t*>(indices),  // NOLINT: read only
                       {n},
                       at::TensorOptions().dtype(at::kLong))
                       .to(inputs_.device());
  // (W, T) -> (n, T), a fresh contiguous copy
  return {inputs_.index_select(0, idx), targets_.index_select(0, idx)};
}

// The CPU path: two allocations and 2 * n row copies, no per-row ATen
// calls (about 4x the batches/s of index_select; bench/README.md).
Batch WindowSource::gather_rows(const int64_t* indices, int64_t n) const {
  const int64_t t = dataset_.max_length();
  const auto opts = at::TensorOptions().dtype(at::kLong);
  Batch batch{at::empty({n, t}, opts), at::empty({n, t}, opts)};
  const int64_t* src = dataset_.ids().data_ptr<int64_t>();
  int64_t* in = batch.inputs.data_ptr<int64_t>();
  int64_t* tg = batch.targets.data_ptr<int64_t>();
  const auto row_bytes = static_cast<size_t>(t) * sizeof(int64_t);
  for (int64_t r = 0; r < n; ++r) {
    const int64_t* window = src + indices[r] * dataset_.stride();
    std::memcpy(in + r * t, window, row_bytes);
    std::memcpy(tg + r * t, window + 1, row_bytes);
  }
  return batch;
}

// The token-file path: each input row is widened from the mapping, its
// target is the same row shifted by one plus the id after the window.
Batch WindowSource::gather_mapped_rows(
    const int64_t* indices, int64_t n) const {
  const int64_t t = dataset_.max_length();
  const auto opts = at::TensorOptions().dtype(at::kLong);
  Batch batch{at::empty({n, t}, opts), at::empty({n, t}, opts)};
  int64_t* in = batch.inputs.data_ptr<int64_t>();
  int64_t* tg = batch.targets.data_ptr<int64_t>();
  const auto& file = *dataset_.file();
  const auto len = static_cast<uint64_t>(t);
  const auto shift_bytes = static_cast<size_t>(t - 1) * sizeof(int64_t);
  for (int64_t r = 0; r < n; ++r) {
    const uint64_t first =
        dataset_.file_begin() + static_cast<uint64_t>(indices[r]) *
                                    static_cast<uint64_t>(dataset_.stride());
    int64_t* in_row = in + r * t;
    int64_t* tg_row = tg + r * t;
    file.copy_to(first, len, in_row);
    std::memcpy(tg_row, in_row + 1, shift_bytes);
    tg_row[t - 1] = static_cast<int64_t>(file.at(first + len));
  }
  return batch;
}

}  // namespace ember

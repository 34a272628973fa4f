// The book's sliding-window dataset (ch02 GPTDatasetV1 in
// rasbt/LLMs-from-scratch ch02/01_main-chapter-code/dataloader.ipynb): window
// i is input = ids[i*stride, i*stride + max_length), target the same shifted
// by one. Unlike GPTDatasetV1 it keeps one int64 buffer and hands out narrow()
// views, so memory and build time do not depend on stride or window count.
// Leaves out: padding, document boundaries, on-disk token shards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <ATen/core/Tensor.h>
#include <torch/data/datasets/base.h>
#include <torch/data/example.h>

namespace ember {

class Tokenizer;

/// Sliding windows over one contiguous 1-D token tensor (T = max_length).
///
/// Throws c10::Error (TORCH_CHECK) on bad parameters:
///   - `ids` not 1-D or not an integer dtype,
///   - `max_length < 1` or `stride < 1`,
///   - fewer than max_length + 1 tokens ("the text must have at least
///     max_length + 1 tokens", the book's own wording).
///
///   GptDataset ds(torch::arange(10), /*max_length=*/4, /*stride=*/2);
///   ds.size() -> 3            // range(0, 10 - 4, 2) = [0, 2, 4]
///   ds.get(1) -> {input [2,3,4,5], target [3,4,5,6]}
class GptDataset : public torch::data::datasets::Dataset<GptDataset> {
 public:
  /// `ids`: 1-D tensor of any integer dtype on any device; stored as one
  /// contiguous int64 tensor (no copy when it already is one).
  // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the book's order
  GptDataset(const torch::Tensor& ids, int64_t max_length, int64_t stride);

  /// Tokenizes `text` with `<|endoftext|>` allowed (as the book does), then
  /// builds the windows. Tokenizer errors propagate unchanged.
  static GptDataset from_text(
      std::string_view text,
      const Tokenizer& tok,
      int64_t max_length,
      int64_t stride);

  /// Window `index`: {input, target}, each a (max_length,) int64 narrow() view
  /// of ids(). Never copies or mutates. Throws c10::IndexError
  /// (TORCH_CHECK_INDEX) when index >= size().
  torch::data::Example<> get(size_t index) override;

  /// Number of windows: len(range(0, num_tokens - max_length, stride)).
  torch::optional<size_t> size() const override;

  /// size() without the optional.
  size_t num_windows() const {
    return num_windows_;
  }
  int64_t num_tokens() const {
    return num_tokens_;
  }
  int64_t max_length() const {
    return max_length_;
  }
  int64_t stride() const {
    return stride_;
  }
  /// The one token buffer every window views: (num_tokens,) int64.
  const torch::Tensor& ids() const {
    return ids_;
  }
  /// All windows at once as (num_windows, max_length) strided views of ids()
  /// (rows overlap when stride < max_length): inputs()[i] == get(i).data.
  /// Not contiguous; index_select() or clone() before writing to them.
  torch::Tensor inputs() const;
  /// Same for targets: targets()[i] == get(i).target.
  torch::Tensor targets() const;

 private:
  torch::Tensor ids_;
  int64_t num_tokens_ = 0;
  int64_t max_length_ = 0;
  int64_t stride_ = 0;
  size_t num_windows_ = 0;
};

/// Throws c10::ValueError when a window is longer than the model's context:
/// "GptDataset: max_length exceeds the model's context_length (got 8,
/// expected <= 4)".
void check_fits_context(const GptDataset& dataset, int64_t context_length);

}  // namespace ember

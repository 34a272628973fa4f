// The book's sliding-window dataset (ch02 GPTDatasetV1 in
// rasbt/LLMs-from-scratch ch02/01_main-chapter-code/dataloader.ipynb): window
// i is input = ids[i*stride, i*stride + max_length), target the same shifted
// by one. Unlike GPTDatasetV1 it keeps one int64 buffer and hands out narrow()
// views, so memory and build time do not depend on stride or window count.
// It can also serve the windows of a memory-mapped token file
// (mapped_token_file.hpp) without loading it: the same windows, widened to
// int64 one window at a time. Leaves out: padding, document boundaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <ATen/core/Tensor.h>
#include <torch/data/datasets/base.h>
#include <torch/data/example.h>

namespace ember {

class MappedTokenFile;
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

  /// Windows over ids [begin, begin + count) of a memory-mapped token file
  /// (all of it from `begin` when `count` is empty): the same windows as
  /// GptDataset(<those ids as a tensor>, max_length, stride), but nothing is
  /// loaded; a window is read from the mapping and widened to int64 when
  /// asked for. Copies share the mapping. Same checks as above, plus
  /// c10::ValueError when the range runs past the file's end.
  ///
  ///   auto file = std::make_shared<const MappedTokenFile>("corpus.bin");
  ///   GptDataset ds(file, 256, 256);   // ds.size(): the same as in memory
  GptDataset(
      std::shared_ptr<const MappedTokenFile> file,
      int64_t max_length,
      int64_t stride,
      uint64_t begin = 0,
      std::optional<uint64_t> count = std::nullopt);

  /// Maps the token file at `path` (its checksum verified, one pass) and
  /// builds the windows over all of its ids. Token-file errors
  /// (TokenizerError, Error) propagate unchanged.
  static GptDataset from_token_file(
      const std::string& path, int64_t max_length, int64_t stride);

  /// Window `index`: {input, target}, each a (max_length,) int64 narrow() view
  /// of ids(); for a mapped dataset, views of a fresh (max_length + 1,)
  /// buffer read from the mapping. Never mutates. Throws c10::IndexError
  /// (TORCH_CHECK_INDEX) when index >= size().
  torch::data::Example<> get(size_t index) override;

  /// Writes window `index`'s max_length + 1 ids (input, then the target's
  /// last id) to `out` as int64, from either source (in memory: CPU ids
  /// only). Unchecked index.
  void copy_window(size_t index, int64_t* out) const;

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
  /// True when the windows come from a memory-mapped token file.
  bool is_mapped() const {
    return file_ != nullptr;
  }
  /// The mapped token file (nullptr for an in-memory dataset).
  const std::shared_ptr<const MappedTokenFile>& file() const {
    return file_;
  }
  /// Index in file() of this dataset's first token (0 in memory).
  uint64_t file_begin() const {
    return file_begin_;
  }
  /// The one token buffer every window views: (num_tokens,) int64. A mapped
  /// dataset has none and throws c10::Error (it would load the whole file).
  const torch::Tensor& ids() const;
  /// All windows at once as (num_windows, max_length) strided views of ids()
  /// (rows overlap when stride < max_length): inputs()[i] == get(i).data.
  /// Not contiguous; index_select() or clone() before writing to them.
  /// In memory only, as ids().
  torch::Tensor inputs() const;
  /// Same for targets: targets()[i] == get(i).target.
  torch::Tensor targets() const;

 private:
  torch::Tensor ids_;
  std::shared_ptr<const MappedTokenFile> file_;
  uint64_t file_begin_ = 0;
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

#include <vector>

#include <ATen/ops/from_blob.h>
#include <c10/util/Exception.h>

#include <ember/data/gpt_dataset.hpp>
#include <ember/tokenizer.hpp>

namespace ember {

GptDataset::GptDataset(
    const torch::Tensor& ids,
    // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the book's order
    int64_t max_length,
    int64_t stride)
    : max_length_(max_length), stride_(stride) {
  TORCH_CHECK_VALUE(
      max_length >= 1,
      "GptDataset: max_length must be at least 1 (got ",
      max_length,
      ")");
  TORCH_CHECK_VALUE(
      stride >= 1, "GptDataset: stride must be at least 1 (got ", stride, ")");
  TORCH_CHECK(ids.defined(), "GptDataset: ids is an undefined tensor");
  TORCH_CHECK(
      ids.dim() == 1,
      "GptDataset: ids must be 1-D (got ",
      ids.dim(),
      "-D, shape ",
      ids.sizes(),
      ")");
  TORCH_CHECK(
      c10::isIntegralType(ids.scalar_type(), /*includeBool=*/false),
      "GptDataset: ids must have an integer dtype (got ",
      ids.scalar_type(),
      ")");
  num_tokens_ = ids.size(0);
  // The book (GPTDatasetV1): "Number of tokenized inputs must at least be
  // equal to max_length+1".
  TORCH_CHECK_VALUE(
      num_tokens_ >= max_length + 1,
      "GptDataset: the text must have at least max_length + 1 tokens (got ",
      num_tokens_,
      " tokens, expected at least ",
      max_length + 1,
      ")");
  // One contiguous int64 buffer; a no-op when `ids` already is one.
  ids_ = ids.to(torch::kLong).contiguous();
  // Python: len(range(0, len(token_ids) - max_length, stride))
  // n - max_length >= 1 here, so this is ceil((n - max_length) / stride).
  num_windows_ =
      static_cast<size_t>((num_tokens_ - max_length_ + stride_ - 1) / stride_);
}

GptDataset GptDataset::from_text(
    std::string_view text,
    const Tokenizer& tok,
    int64_t max_length,
    int64_t stride) {
  std::vector<TokenId> ids =
      tok.encode(text, AllowedSpecial({"<|endoftext|>"}));
  std::vector<int64_t> wide(ids.begin(), ids.end());
  auto tensor = at::from_blob(
                    wide.data(),
                    {static_cast<int64_t>(wide.size())},
                    torch::TensorOptions().dtype(torch::kLong))
                    .clone();
  return GptDataset(tensor, max_length, stride);
}

torch::data::Example<> GptDataset::get(size_t index) {
  TORCH_CHECK_INDEX(
      index < num_windows_,
      "GptDataset: window index out of range (got ",
      index,
      ", expected < ",
      num_windows_,
      ")");
  const int64_t start = static_cast<int64_t>(index) * stride_;
  // Views: (max_length,) each, sharing ids_'s storage.
  return {
      ids_.narrow(0, start, max_length_),
      ids_.narrow(0, start + 1, max_length_)};
}

torch::optional<size_t> GptDataset::size() const {
  return num_windows_;
}

torch::Tensor GptDataset::inputs() const {
  // (W, T) view: row i starts at i * stride; rows overlap when stride < T.
  return ids_.as_strided(
      {static_cast<int64_t>(num_windows_), max_length_},
      {stride_, 1},
      ids_.storage_offset());
}

torch::Tensor GptDataset::targets() const {
  return ids_.as_strided(
      {static_cast<int64_t>(num_windows_), max_length_},
      {stride_, 1},
      ids_.storage_offset() + 1);
}

void check_fits_context(const GptDataset& dataset, int64_t context_length) {
  TORCH_CHECK_VALUE(
      dataset.max_length() <= context_length,
      "GptDataset: max_length exceeds the model's context_length (got ",
      dataset.max_length(),
      ", expected <= ",
      context_length,
      ")");
}

}  // namespace ember

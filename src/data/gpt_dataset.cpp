#include <cstring>
#include <utility>
#include <vector>

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/util/Exception.h>

#include <ember/data/gpt_dataset.hpp>
#include <ember/text/mapped_token_file.hpp>
#include <ember/text/tokenizer.hpp>

namespace ember {

namespace {

void check_window_shape(int64_t max_length, int64_t stride) {
  TORCH_CHECK_VALUE(
      max_length >= 1,
      "GptDataset: max_length must be at least 1 (got ",
      max_length,
      ")");
  TORCH_CHECK_VALUE(
      stride >= 1, "GptDataset: stride must be at least 1 (got ", stride, ")");
}

// The book (GPTDatasetV1): "Number of tokenized inputs must at least be
// equal to max_length+1".
void check_enough_tokens(int64_t num_tokens, int64_t max_length) {
  TORCH_CHECK_VALUE(
      num_tokens >= max_length + 1,
      "GptDataset: the text must have at least max_length + 1 tokens (got ",
      num_tokens,
      " tokens, expected at least ",
      max_length + 1,
      ")");
}

// Python: len(range(0, len(token_ids) - max_length, stride))
// n - max_length >= 1 here, so this is ceil((n - max_length) / stride).
size_t count_windows(int64_t num_tokens, int64_t max_length, int64_t stride) {
  return static_cast<size_t>((num_tokens - max_length + stride - 1) / stride);
}

}  // namespace

GptDataset::GptDataset(
    const torch::Tensor& ids,
    // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the book's order
    int64_t max_length,
    int64_t stride)
    : max_length_(max_length), stride_(stride) {
  check_window_shape(max_length, stride);
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
  check_enough_tokens(num_tokens_, max_length);
  // One contiguous int64 buffer; a no-op when `ids` already is one.
  ids_ = ids.to(torch::kLong).contiguous();
  num_windows_ = count_windows(num_tokens_, max_length_, stride_);
}

GptDataset::GptDataset(
    std::shared_ptr<const MappedTokenFile> file,
    // NOLINTNEXTLINE(bugprone-easily-swappable-parameters): the book's order
    int64_t max_length,
    int64_t stride,
    uint64_t begin,
    std::optional<uint64_t> count)
    : file_(std::move(file)),
      file_begin_(begin),
      max_length_(max_length),
      stride_(stride) {
  check_window_shape(max_length, stride);
  TORCH_CHECK(file_ != nullptr, "GptDataset: the token file is null");
  const uint64_t size = file_->size();
  TORCH_CHECK_VALUE(
      begin <= size && (!count || *count <= size - begin),
      "GptDataset: token range [",
      begin,
      ", ",
      begin + count.value_or(0),
      ") runs past the end of the token file (",
      size,
      " tokens)");
  num_tokens_ = static_cast<int64_t>(count.value_or(size - begin));
  check_enough_tokens(num_tokens_, max_length);
  num_windows_ = count_windows(num_tokens_, max_length_, stride_);
}

GptDataset GptDataset::from_token_file(
    const std::string& path, int64_t max_length, int64_t stride) {
  return GptDataset(
      std::make_shared<const MappedTokenFile>(path), max_length, stride);
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
  if (file_ != nullptr) {
    // (T + 1,) read from the mapping; input and target view it.
    torch::Tensor window =
        at::empty({max_length_ + 1}, at::TensorOptions().dtype(at::kLong));
    copy_window(index, window.data_ptr<int64_t>());
    return {window.narrow(0, 0, max_length_), window.narrow(0, 1, max_length_)};
  }
  const int64_t start = static_cast<int64_t>(index) * stride_;
  // Views: (max_length,) each, sharing ids_'s storage.
  return {
      ids_.narrow(0, start, max_length_),
      ids_.narrow(0, start + 1, max_length_)};
}

void GptDataset::copy_window(size_t index, int64_t* out) const {
  const auto start =
      static_cast<uint64_t>(index) * static_cast<uint64_t>(stride_);
  const auto n = static_cast<uint64_t>(max_length_) + 1;
  if (file_ != nullptr) {
    file_->copy_to(file_begin_ + start, n, out);
    return;
  }
  TORCH_CHECK(ids_.is_cpu(), "GptDataset: copy_window needs CPU ids");
  std::memcpy(
      out,
      ids_.data_ptr<int64_t>() + static_cast<int64_t>(start),
      static_cast<size_t>(n) * sizeof(int64_t));
}

const torch::Tensor& GptDataset::ids() const {
  TORCH_CHECK(
      file_ == nullptr,
      "GptDataset: ids() is not available for a memory-mapped token file (it "
      "would load the whole file); hint: use get() or copy_window()");
  return ids_;
}

torch::optional<size_t> GptDataset::size() const {
  return num_windows_;
}

torch::Tensor GptDataset::inputs() const {
  ids();  // throws for a mapped dataset
  // (W, T) view: row i starts at i * stride; rows overlap when stride < T.
  return ids_.as_strided(
      {static_cast<int64_t>(num_windows_), max_length_},
      {stride_, 1},
      ids_.storage_offset());
}

torch::Tensor GptDataset::targets() const {
  ids();  // throws for a mapped dataset
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

// Notes: custom_collate_fn's steps in its order (pad, shift, -100 for all
// padding targets but the first, the exercise-7.2 prompt mask, truncation),
// written as one pass per row into the batch's two buffers. The text has no
// <|endoftext|> of its own (encode raises on it, as tiktoken's does), so the
// padding targets are exactly the targets equal to pad_id.
#include "ember/data/instruction_dataset.hpp"

#include <algorithm>

#include <ATen/ops/empty.h>
#include <fmt/core.h>

#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>

namespace ember {
namespace {

std::vector<int64_t> encode_ids(const Tokenizer& tok, const std::string& text) {
  const auto ids = tok.encode(text);
  return {ids.begin(), ids.end()};
}

// One row of custom_collate_fn: `item` + pad_id, padded to `padded_length`
// (the batch's longest + 1), inputs = padded[:-1], targets = padded[1:].
void collate_row(
    const EncodedEntry& item,
    const CollateOptions& opt,
    int64_t padded_length,
    int64_t width,
    int64_t* in,
    int64_t* tg) {
  const auto n = static_cast<int64_t>(item.ids.size());
  auto padded = [&](int64_t i) { return i < n ? item.ids[i] : opt.pad_id; };
  bool first_pad_seen = false;
  for (int64_t j = 0; j < padded_length - 1; ++j) {
    const int64_t target = padded(j + 1);
    int64_t t = target;
    if (target == opt.pad_id) {
      if (first_pad_seen) t = opt.ignore_index;
      first_pad_seen = true;
    }
    // targets[:instruction_length - 1] = ignore_index (exercise 7.2)
    if (opt.mask_prompt && j < item.prompt_length - 1) t = opt.ignore_index;
    if (j < width) {
      in[j] = padded(j);
      tg[j] = t;
    }
  }
}

}  // namespace

Batch collate_instructions(
    const std::vector<const EncodedEntry*>& rows, const CollateOptions& opt) {
  int64_t padded_length = 1;  // max(len(item) + 1)
  for (const auto* r : rows) {
    padded_length =
        std::max(padded_length, static_cast<int64_t>(r->ids.size()) + 1);
  }
  int64_t width = padded_length - 1;
  if (opt.max_length > 0) width = std::min(width, opt.max_length);
  const auto b = static_cast<int64_t>(rows.size());
  const auto opts = at::TensorOptions().dtype(at::kLong);
  Batch batch{at::empty({b, width}, opts), at::empty({b, width}, opts)};
  int64_t* in = batch.inputs.data_ptr<int64_t>();
  int64_t* tg = batch.targets.data_ptr<int64_t>();
  for (int64_t r = 0; r < b; ++r) {
    collate_row(
        *rows[r], opt, padded_length, width, in + r * width, tg + r * width);
  }
  return batch;
}

InstructionSource::InstructionSource(
    const std::vector<InstructionEntry>& entries,
    const Tokenizer& tok,
    CollateOptions options,
    size_t first_index,
    const std::string& source)
    : options_(options) {
  encoded_.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    try {
      const std::string prompt = format_input(entries[i]);
      EncodedEntry e;
      e.ids = encode_ids(tok, prompt + format_response(entries[i]));
      if (options_.mask_prompt) {
        e.prompt_length = static_cast<int64_t>(tok.encode(prompt).size());
      }
      encoded_.push_back(std::move(e));
    } catch (const Error& e) {
      throw ConfigError(fmt::format(
          "data.path {}: entry {}: {}", source, first_index + i, e.what()));
    }
  }
}

Batch InstructionSource::collate(const int64_t* indices, int64_t n) const {
  std::vector<const EncodedEntry*> rows(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) rows[r] = &encoded_[indices[r]];
  return collate_instructions(rows, options_);
}

}  // namespace ember

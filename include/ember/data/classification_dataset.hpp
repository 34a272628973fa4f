// The book's chapter-6 SpamDataset as a batch source: every text encoded
// once (tiktoken's default encode: special-token text is an error),
// truncated to the dataset's length and padded to it with <|endoftext|>
// (50256); a batch is the (B, L) ids and the (B) labels. The length is the
// longest encoded training text (the book's max_length=None) or
// data.max_length; validation and test use the training length.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ember/data/batch_source.hpp>
#include <ember/data/classification_data.hpp>

namespace ember {

class Tokenizer;

/// Each text's ids, untruncated. Throws ember::Error naming `source` and
/// the row ("data.train_path train.csv: row 12: ...") on a tokenizer error.
std::vector<std::vector<int64_t>> encode_texts(
    const std::vector<LabelledText>& texts,
    const Tokenizer& tok,
    const std::string& source);

/// The longest of `encoded` (0 when empty): the book's
/// _longest_encoded_length.
int64_t longest_length(const std::vector<std::vector<int64_t>>& encoded);

class ClassificationSource final : public BatchSource {
 public:
  /// `encoded[i]` (encode_texts) truncated or padded with `pad_id` to
  /// `length` (>= 1), labelled `texts[i].label`.
  ClassificationSource(
      const std::vector<std::vector<int64_t>>& encoded,
      const std::vector<LabelledText>& texts,
      int64_t length,
      int64_t pad_id = 50256);

  size_t size() const override {
    return labels_.size();
  }
  /// inputs (n, length) ids, targets (n) labels.
  Batch collate(const int64_t* indices, int64_t n) const override;

  int64_t length() const {
    return length_;
  }

 private:
  std::vector<int64_t> ids_;  // size() rows of length_ ids
  std::vector<int64_t> labels_;
  int64_t length_;
};

}  // namespace ember

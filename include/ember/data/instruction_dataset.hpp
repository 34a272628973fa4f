// The book's chapter-7 batches (ch07 InstructionDataset + custom_collate_fn):
// each entry's prompt and response tokenized once; a batch appends
// <|endoftext|> to every row, pads the rows to the longest + 1 with it,
// shifts inputs and targets by one, replaces every padding target but the
// first with -100 (ignored by the loss), optionally masks the prompt's
// targets (the book's exercise 7.2), and truncates to max_length (the book's
// allowed_max_length).
#pragma once

#include <cstdint>
#include <vector>

#include <ember/data/batch_source.hpp>
#include <ember/data/instruction_data.hpp>

namespace ember {

class Tokenizer;

struct CollateOptions {
  int64_t pad_id = 50256;       ///< <|endoftext|>
  int64_t ignore_index = -100;  ///< cross_entropy's default
  int64_t max_length = 0;       ///< allowed_max_length; 0 = no limit
  bool mask_prompt = false;     ///< exercise 7.2
};

/// One tokenized entry: its ids (prompt and response) and how many of them
/// are the prompt (format_input's ids, counted alone as the book does).
struct EncodedEntry {
  std::vector<int64_t> ids;
  int64_t prompt_length = 0;
};

/// custom_collate_fn over `rows` (the book's toy batch [0..4], [5, 6],
/// [7, 8, 9] gives its printed inputs and targets with -100). A row with no
/// ids gives a row of padding. Rows are not changed.
Batch collate_instructions(
    const std::vector<const EncodedEntry*>& rows, const CollateOptions& opt);

class InstructionSource final : public BatchSource {
 public:
  /// Tokenizes every entry (format_input + format_response; special-token
  /// text raises, as tiktoken's encode does). Throws ember::Error naming
  /// the entry ("data.path d.json: entry 4: ...") on a tokenizer error.
  /// `first_index` is the file index of entries[0] (for messages).
  InstructionSource(
      const std::vector<InstructionEntry>& entries,
      const Tokenizer& tok,
      CollateOptions options,
      size_t first_index,
      const std::string& source);

  size_t size() const override {
    return encoded_.size();
  }
  Batch collate(const int64_t* indices, int64_t n) const override;

  const std::vector<EncodedEntry>& encoded() const {
    return encoded_;
  }

 private:
  std::vector<EncodedEntry> encoded_;
  CollateOptions options_;
};

}  // namespace ember

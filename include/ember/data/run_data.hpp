// A training run's data: data.path (split by train_ratio) or data.train_path
// + data.val_path turned into the training and validation loaders, with the
// checks that refuse data a run cannot use before any work. Mirrors the
// book's ch05 set-up (gpt_train.py: text_data[:split_idx] and
// text_data[split_idx:], each given to create_dataloader_v1). A text is read
// and tokenized in memory; a token file is memory-mapped and split by tokens.
// Leaves out: the model and the seeds (the trainer owns both).
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>

#include <ember/config/config.hpp>
#include <ember/data/loader.hpp>

namespace ember {

/// What the data needs to know from outside the `[data]` section.
struct RunDataOptions {
  /// model.vocab_size: every id must be below it.
  int64_t vocab_size = 50257;
  /// Threads that tokenize a text (train.threads resolved; never 0).
  unsigned threads = 1;
  /// Windows per training batch: data.batch_size times the number of ranks.
  int64_t global_batch = 1;
  /// format "classification": model.num_classes (every label below it) and
  /// model.context_length (the longest training text must fit it).
  int64_t num_classes = 2;
  int64_t context_length = 1024;
};

/// The two loaders of a run: training (shuffled per data.shuffle, drop_last
/// per data.drop_last) and validation (in order, last batch kept).
struct RunData {
  Loader train;
  Loader val;
  /// train.num_batches(), never 0.
  int64_t num_batches = 0;
  /// data.format = "instruction": the test entries (in order, last batch
  /// kept; may have no batch); "classification": data.test_path's texts,
  /// when given. Unset for text.
  std::optional<Loader> test;
  /// format "classification": the length of every row (the training one).
  int64_t length = 0;
};

/// Reads, splits and tokenizes (or maps) the run's data and builds its
/// loaders. Draws nothing from any generator (the trainer seeds around it).
/// Logs one "data: training on N tokens [a, b) of token file F
/// (memory-mapped)" line (and one for validation) per mapped part to `log`.
/// Throws ConfigError when an id is >= vocab_size, when a part has no more
/// than max_length tokens ("data: the validation part of x.txt has 12
/// tokens, expected at least max_length + 1 = 17; hint: ...") or gives no
/// batch; ember::Error when the text or the shuffled order would not fit in
/// memory, and on unreadable files (invalid UTF-8, a bad token file).
///
///   RunData d = prepare_run_data(cfg.data, {50257, 1, 4}, stdout);
///   d.num_batches   // -> 72 on the-verdict with configs/debug.toml
RunData prepare_run_data(
    const DataConfig& data, const RunDataOptions& options, std::FILE* log);

/// prepare_run_data for data.format = "instruction" (instruction_run_data.cpp):
/// the book's chapter-7 entries read, split by entries (train, test, then
/// validation), tokenized and batched by InstructionSource. Throws
/// ConfigError for a bad file (instruction_data.hpp), a training split
/// without one batch ("data: data.train_ratio 0.85 of 3 entries gives 2
/// training entries, fewer than one batch of 8; ..."), or a vocabulary
/// without <|endoftext|>.
RunData prepare_instruction_data(
    const DataConfig& data, const RunDataOptions& options, std::FILE* log);

/// prepare_run_data for data.format = "classification"
/// (classification_run_data.cpp): the book's chapter-6 CSV/TSV files read
/// (data/classification_data.hpp), encoded and batched by
/// ClassificationSource. Throws ConfigError for a bad file, a training
/// file without one batch, or a longest training text over
/// context_length when data.max_length is 0.
RunData prepare_classification_data(
    const DataConfig& data, const RunDataOptions& options, std::FILE* log);

}  // namespace ember

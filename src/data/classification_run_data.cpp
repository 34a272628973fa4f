// The chapter-6 run data (the book's gpt_class_finetune.py): the training,
// validation and test CSV/TSV files read and encoded, every text truncated
// or padded to the training length; training shuffled with drop_last,
// validation and test in order with the last batch kept. Draws nothing.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <ember/data/classification_dataset.hpp>
#include <ember/data/run_data.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>

namespace ember {
namespace {

constexpr int64_t kEndOfText = 50256;

struct Part {
  std::vector<LabelledText> texts;
  std::vector<std::vector<int64_t>> encoded;
};

Part read_part(
    const std::string& path,
    const char* key,
    const DataConfig& data,
    const RunDataOptions& options,
    const Tokenizer& tok) {
  LabelledTextOptions o;
  o.text_column = data.text_column;
  o.label_column = data.label_column;
  o.num_classes = options.num_classes;
  o.delimiter = data.delimiter;
  Part p;
  p.texts = read_labelled_texts(path, o);
  p.encoded = encode_texts(p.texts, tok, fmt::format("{} {}", key, path));
  return p;
}

// The training length: data.max_length, or the longest training text,
// which must fit the model's context (the book asserts it).
int64_t training_length(
    const DataConfig& data, const RunDataOptions& options, const Part& train) {
  if (data.max_length > 0) return data.max_length;
  const int64_t longest = std::max<int64_t>(longest_length(train.encoded), 1);
  if (longest > options.context_length) {
    throw ConfigError(fmt::format(
        "data: the longest training text of {} has {} tokens, more than "
        "model.context_length {}; hint: set data.max_length = {} to "
        "truncate the texts",
        data.train_path,
        longest,
        options.context_length,
        options.context_length));
  }
  return longest;
}

}  // namespace

RunData prepare_classification_data(
    const DataConfig& data, const RunDataOptions& options, std::FILE* log) {
  if (options.vocab_size <= kEndOfText) {
    throw ConfigError(fmt::format(
        "model.vocab_size: data.format = \"classification\" pads with "
        "<|endoftext|> (id {}) (got vocab_size {}, expected > {})",
        kEndOfText,
        options.vocab_size,
        kEndOfText));
  }
  // Checked here, not in load_config: forward, generate and export build
  // the model of such a config without its data.
  if (data.train_path.empty()) {
    throw ConfigError(
        "data.format = \"classification\" reads CSV or TSV files: set "
        "data.train_path and data.val_path (and data.test_path), e.g. the "
        "book's train.csv, validation.csv and test.csv");
  }
  const Tokenizer tok = Tokenizer::gpt2();
  const Part train =
      read_part(data.train_path, "data.train_path", data, options, tok);
  const Part val =
      read_part(data.val_path, "data.val_path", data, options, tok);
  const auto n_train = static_cast<int64_t>(train.texts.size());
  if (data.drop_last ? n_train < options.global_batch : n_train == 0) {
    throw ConfigError(fmt::format(
        "data: data.train_path {} has {} texts, fewer than one batch of {} "
        "(data.batch_size times the ranks); hint: lower data.batch_size or "
        "set data.drop_last = false",
        data.train_path,
        n_train,
        options.global_batch));
  }
  const int64_t length = training_length(data, options, train);
  const auto source = [&](const Part& p) {
    return std::make_shared<const ClassificationSource>(
        p.encoded, p.texts, length, kEndOfText);
  };
  const LoaderOptions in_order{
      options.global_batch, false, false, data.num_workers};
  Loader train_loader(
      source(train),
      LoaderOptions{
          options.global_batch,
          data.shuffle,
          data.drop_last,
          data.num_workers});
  const auto num_batches = static_cast<int64_t>(train_loader.num_batches());
  RunData out{
      std::move(train_loader), Loader(source(val), in_order), num_batches, {}};
  size_t n_test = 0;
  if (!data.test_path.empty()) {
    const Part test =
        read_part(data.test_path, "data.test_path", data, options, tok);
    n_test = test.texts.size();
    out.test.emplace(source(test), in_order);
  }
  out.length = length;
  fmt::print(
      log,
      "data: {} training, {} validation, {} test texts; each {} tokens ({})\n",
      train.texts.size(),
      val.texts.size(),
      n_test,
      length,
      data.max_length > 0 ? "data.max_length" : "the longest training text");
  return out;
}

}  // namespace ember

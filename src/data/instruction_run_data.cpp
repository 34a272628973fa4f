// The chapter-7 run data (the book's gpt_instruction_finetuning.py main()):
// the file read, split by entries in file order, each split tokenized into
// an InstructionSource; training shuffled with drop_last, validation and
// test in order with the last batch kept. Draws nothing.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/core.h>

#include <ember/data/instruction_dataset.hpp>
#include <ember/data/run_data.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>

namespace ember {
namespace {

constexpr int64_t kEndOfText = 50256;

void check_train_split(
    const DataConfig& data,
    const InstructionSplit& split,
    size_t n,
    int64_t global_batch) {
  const auto train = static_cast<int64_t>(split.train);
  if (data.drop_last ? train < global_batch : train == 0) {
    throw ConfigError(fmt::format(
        "data: data.train_ratio {} of {} entries gives {} training entries, "
        "fewer than one batch of {} (data.batch_size times the ranks); hint: "
        "raise data.train_ratio, lower data.batch_size, or use more entries",
        data.train_ratio,
        n,
        split.train,
        global_batch));
  }
  // Validation is never empty: config.cpp keeps train_ratio + test_ratio
  // below 1, and n - int(a n) - int(b n) > n (1 - a - b) > 0.
}

std::shared_ptr<const InstructionSource> make_source(
    const std::vector<InstructionEntry>& all,
    size_t begin,
    size_t count,
    const Tokenizer& tok,
    const DataConfig& data) {
  const std::vector<InstructionEntry> part(
      all.begin() + static_cast<std::ptrdiff_t>(begin),
      all.begin() + static_cast<std::ptrdiff_t>(begin + count));
  CollateOptions opt;
  opt.pad_id = kEndOfText;
  opt.max_length = data.max_length;
  opt.mask_prompt = data.mask_prompt;
  return std::make_shared<const InstructionSource>(
      part, tok, opt, begin, data.path);
}

}  // namespace

RunData prepare_instruction_data(
    const DataConfig& data, const RunDataOptions& options, std::FILE* log) {
  if (options.vocab_size <= kEndOfText) {
    throw ConfigError(fmt::format(
        "model.vocab_size: data.format = \"instruction\" pads with "
        "<|endoftext|> (id {}) (got vocab_size {}, expected > {})",
        kEndOfText,
        options.vocab_size,
        kEndOfText));
  }
  const auto entries = read_instruction_data(data.path);
  const auto split =
      split_instruction_data(entries.size(), data.train_ratio, data.test_ratio);
  check_train_split(data, split, entries.size(), options.global_batch);
  const Tokenizer tok = Tokenizer::gpt2();
  auto train = make_source(entries, 0, split.train, tok, data);
  auto test = make_source(entries, split.train, split.test, tok, data);
  auto val =
      make_source(entries, split.train + split.test, split.val, tok, data);
  fmt::print(
      log,
      "data: {} instruction entries: {} training, {} validation, {} test{}\n",
      entries.size(),
      split.train,
      split.val,
      split.test,
      data.mask_prompt ? " (prompt targets masked)" : "");
  const LoaderOptions in_order{
      options.global_batch, false, false, data.num_workers};
  Loader train_loader(
      train,
      LoaderOptions{
          options.global_batch,
          data.shuffle,
          data.drop_last,
          data.num_workers});
  const auto num_batches = static_cast<int64_t>(train_loader.num_batches());
  return RunData{
      std::move(train_loader),
      Loader(val, in_order),
      num_batches,
      Loader(test, in_order)};
}

}  // namespace ember

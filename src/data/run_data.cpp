// Notes: a text is split by code points as the book's text_data[:split_idx]
// is (Python slices characters, not bytes), then each part is tokenized
// alone; a token file is split by tokens (nanoGPT splits its .bin files the
// same way), since a character split means nothing once the text is gone.
#include "ember/data/run_data.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <ATen/ops/empty.h>
#include <fmt/core.h>

#include <ember/data/gpt_dataset.hpp>
#include <ember/text/mapped_token_file.hpp>
#include <ember/text/token_file.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>
#include <ember/util/memory_budget.hpp>
#include <ember/util/utf8.hpp>

namespace ember {
namespace {

// Python's open(..., encoding="utf-8").read(): universal newlines.
std::string read_text(const std::string& path, std::string_view key) {
  const std::string raw = read_file(path);
  if (auto bad = find_invalid_utf8(raw)) {
    throw Error(
        fmt::format("{} {}: invalid UTF-8 at byte offset {}", key, path, *bad));
  }
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\r') {
      out += '\n';
      if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
    } else {
      out += raw[i];
    }
  }
  return out;
}

torch::Tensor to_tensor(const std::vector<TokenId>& ids) {
  auto t = at::empty({static_cast<int64_t>(ids.size())}, at::kLong);
  auto* p = t.data_ptr<int64_t>();
  for (size_t i = 0; i < ids.size(); ++i) p[i] = ids[i];
  return t;
}

// The ids of the training or the validation part: an int64 tensor in
// memory (from a text), or a range of a memory-mapped token file.
struct DataPart {
  torch::Tensor ids;
  std::shared_ptr<const MappedTokenFile> file;
  uint64_t begin = 0;
  uint64_t count = 0;
  std::string what;  // the file, for messages

  int64_t size() const {
    return file != nullptr ? static_cast<int64_t>(count) : ids.numel();
  }
  int64_t max_id() const {
    if (file != nullptr) return file->max_id(begin, count);
    return ids.max().item<int64_t>();
  }
  GptDataset dataset(int64_t max_length, int64_t stride) const {
    if (file != nullptr) {
      return GptDataset(file, max_length, stride, begin, count);
    }
    return GptDataset(ids, max_length, stride);
  }
};

struct DataParts {
  DataPart train;
  DataPart val;
};

// Maps a token file (checksum verified: one pass) written for GPT-2.
std::shared_ptr<const MappedTokenFile> open_token_file(
    const std::string& path, std::string_view key) {
  auto file = std::make_shared<const MappedTokenFile>(path);
  if (file->header().vocab_name != "gpt2") {
    throw ConfigError(fmt::format(
        "{} {}: the token file is for vocabulary '{}' (expected gpt2)",
        key,
        path,
        file->header().vocab_name));
  }
  return file;
}

// A whole file as one part: a token file mapped, a text tokenized.
DataPart load_whole_file(
    const std::string& path,
    std::string_view key,
    const Tokenizer& tokenizer,
    unsigned threads) {
  DataPart part;
  part.what = path;
  if (is_token_file(path)) {
    part.file = open_token_file(path, key);
    part.count = part.file->size();
    return part;
  }
  check_text_fits_memory(path, std::string(key));
  const std::string text = read_text(path, key);
  part.ids = to_tensor(tokenizer.encode_parallel(
      text, AllowedSpecial({"<|endoftext|>"}), Disallowed::kRaise, threads));
  return part;
}

// data.path as a token file: the first train_ratio of its tokens trains.
DataParts split_token_file(const DataConfig& data) {
  auto file = open_token_file(data.path, "data.path");
  const uint64_t n = file->size();
  const auto n_train =
      static_cast<uint64_t>(data.train_ratio * static_cast<double>(n));
  return {
      {{}, file, 0, n_train, data.path},
      {{}, file, n_train, n - n_train, data.path}};
}

// data.path as a text: the book's character split, each part tokenized
// alone.
DataParts split_text(
    const DataConfig& data, const Tokenizer& tokenizer, unsigned threads) {
  check_text_fits_memory(data.path, "data.path");
  const std::string text = read_text(data.path, "data.path");
  const auto split_chars = static_cast<int64_t>(
      data.train_ratio * static_cast<double>(count_code_points(text)));
  const size_t split =
      code_point_offset(text, static_cast<size_t>(split_chars));
  const AllowedSpecial eot({"<|endoftext|>"});
  DataParts parts;
  parts.train.ids = to_tensor(tokenizer.encode_parallel(
      std::string_view(text).substr(0, split),
      eot,
      Disallowed::kRaise,
      threads));
  parts.val.ids = to_tensor(tokenizer.encode_parallel(
      std::string_view(text).substr(split), eot, Disallowed::kRaise, threads));
  parts.train.what = parts.val.what = data.path;
  return parts;
}

DataParts load_parts(const DataConfig& data, unsigned threads) {
  const Tokenizer tokenizer = Tokenizer::gpt2();
  if (!data.train_path.empty()) {
    DataParts parts;
    parts.train =
        load_whole_file(data.train_path, "data.train_path", tokenizer, threads);
    parts.val =
        load_whole_file(data.val_path, "data.val_path", tokenizer, threads);
    return parts;
  }
  if (is_token_file(data.path)) return split_token_file(data);
  return split_text(data, tokenizer, threads);
}

void check_ids_in_vocab(const DataParts& parts, int64_t vocab_size) {
  for (const DataPart* part : {&parts.train, &parts.val}) {
    if (part->size() == 0) continue;
    const int64_t top = part->max_id();
    if (top >= vocab_size) {
      throw ConfigError(fmt::format(
          "model.vocab_size: the data has token id {} (got vocab_size {}, "
          "expected > {})",
          top,
          vocab_size,
          top));
    }
  }
}

// Each part must fill at least one window of max_length + 1 tokens.
void check_part_lengths(const DataParts& parts, const DataConfig& data) {
  const bool separate = !data.train_path.empty();
  for (const auto& [part_name, part, hint] :
       {std::tuple{
            "training",
            &parts.train,
            separate ? "lower data.max_length or use a longer file"
                     : "lower data.max_length or use a longer text"},
        std::tuple{
            "validation",
            &parts.val,
            separate ? "lower data.max_length or use a longer file"
                     : "lower data.max_length or data.train_ratio"}}) {
    if (part->size() <= data.max_length) {
      throw ConfigError(fmt::format(
          "data: the {} part of {} has {} tokens, expected at least "
          "max_length + 1 = {}; hint: {}",
          part_name,
          part->what,
          part->size(),
          data.max_length + 1,
          hint));
    }
  }
}

void log_mapped_parts(const DataParts& parts, std::FILE* log) {
  for (const auto& [part_name, part] :
       {std::pair{"training", &parts.train},
        std::pair{"validation", &parts.val}}) {
    if (part->file != nullptr) {
      fmt::print(
          log,
          "data: {} on {} tokens [{}, {}) of token file {} (memory-mapped)\n",
          part_name,
          part->count,
          part->begin,
          part->begin + part->count,
          part->what);
    }
  }
}

// A shuffled pass holds randperm(W) as int64 (PyTorch's RandomSampler too),
// and an evaluation's fresh pass a second one beside it.
void check_shuffle_fits_memory(const Loader& train) {
  const uint64_t windows = train.dataset().num_windows();
  const uint64_t need = 2 * 8 * windows;
  const MemoryBudget budget = available_memory();
  if (need > budget.bytes) {
    throw Error(fmt::format(
        "data: shuffling {} training windows needs about {} for their order "
        "(8 bytes per window, twice during evaluation), more than the {} "
        "available ({}); hint: raise data.stride (windows start every "
        "stride tokens) or set data.shuffle = false",
        windows,
        format_bytes(need),
        format_bytes(budget.bytes),
        budget.limit));
  }
}

}  // namespace

RunData prepare_run_data(
    const DataConfig& data, const RunDataOptions& options, std::FILE* log) {
  if (data.format == "classification")
    return prepare_classification_data(data, options, log);
  if (data.format == "instruction") {
    return prepare_instruction_data(data, options, log);
  }
  const DataParts parts = load_parts(data, options.threads);
  check_ids_in_vocab(parts, options.vocab_size);
  check_part_lengths(parts, data);
  log_mapped_parts(parts, log);

  Loader train(
      parts.train.dataset(data.max_length, data.stride),
      LoaderOptions{
          options.global_batch,
          data.shuffle,
          data.drop_last,
          data.num_workers});
  Loader val(
      parts.val.dataset(data.max_length, data.stride),
      LoaderOptions{options.global_batch, false, false, data.num_workers});
  const auto num_batches = static_cast<int64_t>(train.num_batches());
  if (data.shuffle) check_shuffle_fits_memory(train);
  if (num_batches == 0) {
    throw ConfigError(fmt::format(
        "data: the training part gives {} windows, fewer than one batch of "
        "batch_size {} (drop_last); hint: lower data.batch_size or "
        "data.stride",
        train.dataset().size().value(),
        options.global_batch));
  }
  return RunData{std::move(train), std::move(val), num_batches, {}};
}

}  // namespace ember

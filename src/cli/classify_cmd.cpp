// `ember classify`: the book's chapter-6 classify_review as a command. Each
// text is encoded, truncated to the training length (and the context),
// padded with <|endoftext|> and labelled by the argmax of the last
// position's logits. One text (--text: "1 spam") or a file (--input: a text
// per line, or a CSV/TSV like the training files; JSON lines out).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "json_out.hpp"
#include "model_source.hpp"
#include <ATen/ops/argmax.h>
#include <ATen/ops/tensor.h>
#include <CLI/CLI.hpp>
#include <c10/core/GradMode.h>
#include <fmt/core.h>
#include <unistd.h>

#include <ember/data/classification_data.hpp>
#include <ember/data/classification_dataset.hpp>
#include <ember/data/csv.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/train/progress.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember::cli {
namespace {

constexpr int64_t kEndOfText = 50256;
constexpr int64_t kBatch = 16;  // texts per forward pass

struct ClassifyArgs {
  ModelSource source;
  std::string text;
  std::string input;
  int64_t max_length = 0;  // 0 = the run's
};

// One text to label, with where it came from and, from a CSV with the
// label column, its label.
struct Item {
  std::string text;
  int64_t line = 0;
  int64_t expected = -1;  // -1: unknown
};

bool is_table(const std::string& path) {
  const auto dot = path.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = path.substr(dot);
  for (auto& c : ext) c = static_cast<char>(std::tolower(c));
  return ext == ".csv" || ext == ".tsv" || ext == ".tab";
}

// --input: a CSV/TSV's text column (and label column when present), or one
// text per non-empty line.
std::vector<Item> read_items(const std::string& path, const Config& c) {
  const DataConfig& d = c.data;
  std::string content;
  try {
    content = read_file(path);
  } catch (const Error& e) {
    throw ConfigError(fmt::format("--input: {}", e.what()));
  }
  std::vector<Item> out;
  if (!is_table(path)) {
    size_t start = 0;
    for (int64_t line = 1; start < content.size(); ++line) {
      size_t nl = content.find('\n', start);
      if (nl == std::string::npos) nl = content.size();
      std::string t = content.substr(start, nl - start);
      if (!t.empty() && t.back() == '\r') t.pop_back();
      if (!t.empty()) out.push_back({t, line, -1});
      start = nl + 1;
    }
    return out;
  }
  const char delimiter = csv_delimiter(path, d.delimiter);
  const CsvTable table = parse_csv(content, delimiter, path);
  const auto has = [&](const std::string& name) {
    return std::find(table.header.begin(), table.header.end(), name) !=
           table.header.end();
  };
  if (!has(d.text_column)) {
    throw ConfigError(fmt::format(
        "--input {}: no column '{}' (data.text_column) in the header",
        path,
        d.text_column));
  }
  // With the label column, the training files' rules (labels in range,
  // no empty text) and each label kept for the accuracy.
  std::vector<LabelledText> labelled;
  if (has(d.label_column)) {
    LabelledTextOptions o;
    o.text_column = d.text_column;
    o.label_column = d.label_column;
    o.num_classes = c.model.num_classes;
    labelled = parse_labelled_texts(content, path, delimiter, o);
  }
  const auto text =
      std::find(table.header.begin(), table.header.end(), d.text_column) -
      table.header.begin();
  for (size_t r = 0; r < table.rows.size(); ++r) {
    out.push_back(
        {table.rows[r][static_cast<size_t>(text)],
         table.row_lines[r],
         labelled.empty() ? -1 : labelled[r].label});
  }
  return out;
}

// The training length: data.max_length, or (0) the longest text of the
// training file, as the run computed it; --max-length overrides.
int64_t text_length(const ClassifyArgs& args, const Config& c) {
  if (args.max_length > 0) return args.max_length;
  if (c.data.max_length > 0) return c.data.max_length;
  LabelledTextOptions o;
  o.text_column = c.data.text_column;
  o.label_column = c.data.label_column;
  o.num_classes = c.model.num_classes;
  o.delimiter = c.data.delimiter;
  try {
    const auto texts = read_labelled_texts(c.data.train_path, o);
    return longest_length(encode_texts(texts, Tokenizer::gpt2(), "train"));
  } catch (const Error& e) {
    throw ConfigError(fmt::format(
        "classify: data.max_length is 0 (the longest training text), but "
        "the training file cannot be read ({}); hint: give --max-length N "
        "(the run printed \"each N tokens\")",
        e.what()));
  }
}

void check_args(const ClassifyArgs& args, const Config& c) {
  if (c.model.head != "classifier") {
    throw ConfigError(fmt::format(
        "classify: the model is not a classifier (model.head = \"{}\"); "
        "hint: classify a run of data.format = \"classification\" (the "
        "book's chapter 6)",
        c.model.head));
  }
  if (args.text.empty() == args.input.empty())
    throw ConfigError("classify: give one of --text and --input");
}

// The labels of `items` (classify_review, kBatch texts per pass).
std::vector<int64_t> predict(
    GPTModel& model, const std::vector<Item>& items, int64_t length) {
  const Tokenizer tok = Tokenizer::gpt2();
  std::vector<int64_t> out;
  const ProgressBar bar(::isatty(STDERR_FILENO) != 0, stderr);
  for (size_t i = 0; i < items.size(); i += kBatch) {
    const size_t n = std::min<size_t>(kBatch, items.size() - i);
    std::vector<int64_t> ids(n * static_cast<size_t>(length), kEndOfText);
    for (size_t r = 0; r < n; ++r) {
      const auto row = tok.encode(items[i + r].text);
      const size_t k = std::min(row.size(), static_cast<size_t>(length));
      std::copy_n(row.begin(), k, ids.begin() + static_cast<long>(r * length));
    }
    const auto batch =
        at::tensor(ids, at::kLong).view({static_cast<int64_t>(n), length});
    const auto labels = model->forward_last(batch).select(1, -1).argmax(-1);
    for (size_t r = 0; r < n; ++r)
      out.push_back(labels[static_cast<int64_t>(r)].item<int64_t>());
    bar.draw(
        static_cast<int64_t>(i + n),
        static_cast<int64_t>(items.size()),
        static_cast<int64_t>(i + n),
        0);
  }
  bar.clear();
  return out;
}

void run_classify(const ClassifyArgs& args) {
  TrainedModel trained = load_model(args.source);
  const Config& c = trained.config;
  check_args(args, c);
  const int64_t length = std::min(text_length(args, c), c.model.context_length);
  const auto items = args.input.empty() ? std::vector<Item>{{args.text, 0, -1}}
                                        : read_items(args.input, c);
  trained.model->eval();
  c10::NoGradGuard no_grad;
  const auto labels = predict(trained.model, items, length);
  const auto& names = c.data.label_names;
  const auto name = [&](int64_t l) {
    return names.empty() ? std::string() : names[static_cast<size_t>(l)];
  };
  if (args.input.empty()) {
    fmt::print(
        "{}{}{}\n", labels[0], names.empty() ? "" : " ", name(labels[0]));
    return;
  }
  fmt::memory_buffer buf;
  int64_t right = 0, known = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    fmt::format_to(
        std::back_inserter(buf),
        "{{\"line\": {}, \"label\": {}",
        items[i].line,
        labels[i]);
    if (!names.empty()) {
      buf.append(std::string_view(", \"name\": "));
      append_string(buf, name(labels[i]));
    }
    if (items[i].expected >= 0) {
      fmt::format_to(
          std::back_inserter(buf), ", \"expected\": {}", items[i].expected);
      ++known;
      right += items[i].expected == labels[i] ? 1 : 0;
    }
    buf.append(std::string_view(", \"text\": "));
    append_string(buf, items[i].text);
    buf.append(std::string_view("}\n"));
  }
  write_out(buf);
  fmt::print(stderr, "classify: {} texts, length {}", items.size(), length);
  if (known > 0) {
    fmt::print(
        stderr,
        "; accuracy {:.2f}% ({} of {} as labelled)",
        100.0 * static_cast<double>(right) / static_cast<double>(known),
        right,
        known);
  }
  fmt::print(stderr, "\n");
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto args = std::make_shared<ClassifyArgs>();
  auto* cmd = app.add_subcommand("classify", torch_command_summary("classify"));
  add_source_options(cmd, args->source, false);
  cmd->add_option("--text", args->text, "One text to label");
  cmd->add_option(
      "--input",
      args->input,
      "A file of texts: one per line, or a .csv/.tsv with the training "
      "files' header (data.text_column; data.label_column, when present, is "
      "compared); JSON lines out");
  cmd->add_option(
         "--max-length",
         args->max_length,
         "Truncate and pad to N tokens (default: the run's training length)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->callback([args] { run_classify(*args); });
}

}  // namespace ember::cli

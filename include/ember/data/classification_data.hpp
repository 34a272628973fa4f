// The book's chapter-6 labelled texts (ch06/01_main-chapter-code,
// gpt_class_finetune.py: SpamDataset reads pd.read_csv(csv_file) and takes
// data["Text"] and data["Label"], with ham/spam already mapped to 0/1):
// the rows of a CSV/TSV file (data/csv.hpp) as (text, label) pairs, checked
// so that a bad row fails here, by file and line, rather than as a NaN in
// the tokenizer or an index error in the loss. Tokenizing and padding are
// left to the dataset; plain C++17, no LibTorch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

/// One row: the text (never empty) and its label in [0, num_classes).
struct LabelledText {
  std::string text;
  int64_t label = 0;
};

/// Which columns to read and how to split them (the data.* and
/// model.num_classes keys).
struct LabelledTextOptions {
  std::string text_column = "Text";    ///< data.text_column, a header name
  std::string label_column = "Label";  ///< data.label_column, a header name
  int64_t num_classes = 2;             ///< model.num_classes
  /// data.delimiter: "" = by extension, "tab" or one character
  /// (csv_delimiter in data/csv.hpp); read_labelled_texts uses it.
  std::string delimiter;
};

/// Parses `text` (parse_csv with `delimiter`) and returns its rows in file
/// order. The columns are found by header name (the first one of that
/// name, as pandas renames later duplicates "Text.1"). A label is a base-10
/// integer (digits, or '-' and digits) in [0, num_classes); a text must not
/// be empty (pandas would read it as NaN). `source` names the file.
/// Throws ember::ConfigError with one line, e.g.
///   "train.csv:1: no column 'Text' in the header (columns: 'Label',
///    'Txt'); hint: set data.text_column to the column of the texts"
///   "train.csv:5: label '2' is outside 0..1 (model.num_classes 2); hint: ..."
///   "train.csv:5: label 'spam' is not an integer; hint: ... (the book maps
///    ham/spam to 0/1)"
///   "train.csv:6: empty text in column 'Text'; hint: ..."
///   "train.csv:1: a header but no rows; hint: ..."
/// plus parse_csv's errors.
/// Example: parse_labelled_texts("Label,Text\n1,\"Win $$$, now\"\n",
/// "t.csv", ',', {}) gives {{"Win $$$, now", 1}}.
std::vector<LabelledText> parse_labelled_texts(
    std::string_view text,
    const std::string& source,
    char delimiter,
    const LabelledTextOptions& o);

/// Reads the file at `path` and parses it with the delimiter
/// csv_delimiter(path, o.delimiter). A missing or unreadable file throws
/// ember::ConfigError ("read data/train.csv: no such file").
std::vector<LabelledText> read_labelled_texts(
    const std::string& path, const LabelledTextOptions& o);

}  // namespace ember

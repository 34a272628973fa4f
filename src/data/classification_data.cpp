#include "ember/data/classification_data.hpp"

#include <fmt/core.h>

#include <ember/data/csv.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

// The index of column `name` in `table`'s header; throws naming the key.
size_t column_index(
    const CsvTable& table,
    const std::string& name,
    const char* key,
    const char* what,
    const std::string& source) {
  for (size_t i = 0; i < table.header.size(); ++i) {
    if (table.header[i] == name) return i;
  }
  // At most 10 names, each printable on one line.
  constexpr size_t kShown = 10;
  std::string columns;
  for (size_t i = 0; i < table.header.size() && i < kShown; ++i) {
    if (i > 0) columns += ", ";
    columns += "'" + detail::printable(table.header[i]) + "'";
  }
  if (table.header.size() > kShown) {
    columns += fmt::format(" and {} more", table.header.size() - kShown);
  }
  throw ConfigError(fmt::format(
      "{}:1: no column '{}' in the header (columns: {}); hint: set {} to the "
      "column of the {}",
      source,
      detail::printable(name),
      columns,
      key,
      what));
}

// The label `s`, or a ConfigError naming `where` (file:line).
int64_t parse_label(
    const std::string& s, int64_t num_classes, const std::string& where) {
  const bool negative = !s.empty() && s[0] == '-';
  const size_t first = negative ? 1 : 0;
  bool digits = s.size() > first;
  for (size_t i = first; i < s.size() && digits; ++i) {
    digits = s[i] >= '0' && s[i] <= '9';
  }
  if (!digits) {
    throw ConfigError(fmt::format(
        "{}: label '{}' is not an integer; hint: labels are the integers "
        "0..{} (the book maps ham/spam to 0/1 before writing train.csv)",
        where,
        detail::printable(s),
        num_classes - 1));
  }
  // The magnitude, saturated: anything at or past num_classes is out of
  // range, so a long digit run cannot overflow.
  int64_t value = 0;
  for (size_t i = first; i < s.size(); ++i) {
    value = value * 10 + (s[i] - '0');
    if (value > num_classes) value = num_classes;
  }
  if ((negative && value != 0) || value >= num_classes) {
    throw ConfigError(fmt::format(
        "{}: label '{}' is outside 0..{} (model.num_classes {}); hint: "
        "number the classes from 0, or set model.num_classes",
        where,
        detail::printable(s),
        num_classes - 1,
        num_classes));
  }
  return value;
}

}  // namespace

std::vector<LabelledText> parse_labelled_texts(
    std::string_view text,
    const std::string& source,
    char delimiter,
    const LabelledTextOptions& o) {
  if (o.num_classes < 1) {
    throw ConfigError(fmt::format(
        "model.num_classes: expected at least 1 (got {})", o.num_classes));
  }
  CsvTable table = parse_csv(text, delimiter, source);
  const size_t text_col =
      column_index(table, o.text_column, "data.text_column", "texts", source);
  const size_t label_col = column_index(
      table, o.label_column, "data.label_column", "labels", source);
  if (text_col == label_col) {
    throw ConfigError(fmt::format(
        "{}:1: data.text_column and data.label_column both name column '{}'; "
        "hint: the texts and the labels are two columns",
        source,
        detail::printable(o.text_column)));
  }
  if (table.rows.empty()) {
    throw ConfigError(fmt::format(
        "{}:1: a header but no rows; hint: each line after the header is "
        "one labelled text, e.g. 1,\"Win a prize\"",
        source));
  }
  std::vector<LabelledText> out;
  out.reserve(table.rows.size());
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const std::string where = fmt::format("{}:{}", source, table.row_lines[r]);
    LabelledText item;
    item.label = parse_label(table.rows[r][label_col], o.num_classes, where);
    item.text = std::move(table.rows[r][text_col]);
    if (item.text.empty()) {
      throw ConfigError(fmt::format(
          "{}: empty text in column '{}'; hint: pandas reads an empty field "
          "as NaN, which the book's tokenizer cannot encode; drop the row or "
          "give it text",
          where,
          detail::printable(o.text_column)));
    }
    out.push_back(std::move(item));
  }
  return out;
}

std::vector<LabelledText> read_labelled_texts(
    const std::string& path, const LabelledTextOptions& o) {
  const char delimiter = csv_delimiter(path, o.delimiter);
  std::string text;
  try {
    text = read_file(path);
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(e.what());
  }
  return parse_labelled_texts(text, path, delimiter, o);
}

}  // namespace ember

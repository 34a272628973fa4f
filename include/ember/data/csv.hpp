// A CSV/TSV reader for the book's chapter-6 files (ch06/01_main-chapter-code:
// train.csv, validation.csv and test.csv written by pandas'
// to_csv(index=None), read back by pd.read_csv in SpamDataset): a header
// row, RFC 4180 quoting as Python's csv.writer with QUOTE_MINIMAL writes it,
// "\n" or "\r\n" line ends. It keeps every field as text; pandas' type
// inference, NA strings ("NA", "null", ...) and its leniency towards stray
// quotes and short rows are left out (those are errors here). Plain C++17.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

/// A parsed file: the header's column names, then every row with exactly
/// header.size() fields, and the 1-based line on which each row starts
/// (a quoted field may span lines, so row i is not always on line i + 2).
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> row_lines;
};

/// Parses `text` (RFC 4180): fields split at `delimiter`; a field that
/// starts with '"' is quoted and may hold the delimiter, '""' for one '"',
/// and line ends (kept as written, "\r\n" included); lines end with "\n" or
/// "\r\n" (a lone '\r' is text, as Python's csv.writer leaves it unquoted).
/// A UTF-8 BOM at the start is skipped, blank lines (nothing, or only
/// spaces and tabs that are not the delimiter) are skipped as pandas'
/// skip_blank_lines does, and the last line may lack its line end.
/// Linear in text.size(). Throws ember::ConfigError with one line
/// "<source>:<line>: <what>; hint: <fix>", e.g.
///   "train.csv:7: expected 2 fields (as the header), got 3; hint: ..."
///   "train.csv:4: unterminated quoted field (its quote opens on this line
///    and is still open at the end of the file); hint: ..."
///   "train.csv:3: '\"' inside unquoted field 2; hint: ..."
///   "train.csv:3: text after the closing quote of field 2 (got 'x'); ..."
///   "train.csv:9: invalid UTF-8 at byte offset 412; hint: ..."
///   "train.csv:1: no header row (the file is empty); hint: ..."
/// Example: parse_csv("Label,Text\n1,\"a, \"\"b\"\"\"\n", ',', "t.csv")
/// gives header {"Label", "Text"}, rows {{"1", "a, \"b\""}}, row_lines {2}.
CsvTable parse_csv(
    std::string_view text, char delimiter, const std::string& source);

/// The field delimiter for the file at `path` from the data.delimiter key
/// `configured`: "" = by the extension (".tsv" and ".tab", in any case, are
/// tab-separated, anything else comma); "tab", "\\t" (backslash, t) or a
/// tab character = '\t'; any other single character but '"', '\r' and
/// '\n' (and not a byte above 0x7f) is itself. Throws ember::ConfigError
/// naming data.delimiter otherwise.
/// csv_delimiter("data/train.tsv", "") == '\t';
/// csv_delimiter("data/train.tsv", ";") == ';'.
char csv_delimiter(const std::string& path, const std::string& configured);

namespace detail {

/// `s` for a one-line message: at most 40 bytes (cut at a UTF-8 boundary,
/// then "..."), with '\n', '\r', '\t' and other control bytes escaped.
std::string printable(std::string_view s);

}  // namespace detail
}  // namespace ember

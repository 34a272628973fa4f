// Notes: one pass over the text with an index that only moves forward, so
// parsing is linear whatever the input (a quoted field scans for the next
// '"' with memchr-like find; unquoted fields are copied as whole spans).
// UTF-8 is checked once up front (util/io.hpp find_invalid_utf8), so every
// field is valid UTF-8 and the byte offset in the message is the file's.
#include "ember/data/csv.hpp"

#include <fmt/core.h>

#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

const char* kQuoteHint =
    "hint: quote a field that holds the delimiter, a '\"' or a line end, "
    "and double each '\"' inside it (\"say \"\"hi\"\"\"), as pandas' to_csv "
    "does";

std::string delimiter_name(char d) {
  if (d == '\t') return "tab";
  return fmt::format("'{}'", detail::printable(std::string_view(&d, 1)));
}

class CsvParser {
 public:
  CsvParser(std::string_view text, char delimiter, const std::string& source)
      : text_(text), delim_(delimiter), source_(source) {}

  CsvTable parse() {
    CsvTable table;
    std::vector<std::string> record;
    while (next_record(record)) {
      if (!have_header_) {
        table.header = std::move(record);
        have_header_ = true;
        continue;
      }
      if (record.size() != table.header.size()) {
        fail(
            record_line_,
            fmt::format(
                "expected {} field{} (as the header), got {}; hint: fields "
                "are separated by {}; quote a field that holds it, or set "
                "data.delimiter",
                table.header.size(),
                table.header.size() == 1 ? "" : "s",
                record.size(),
                delimiter_name(delim_)));
      }
      table.rows.push_back(std::move(record));
      table.row_lines.push_back(record_line_);
    }
    if (!have_header_) {
      fail(
          1,
          "no header row (the file is empty); hint: the first line names the "
          "columns, e.g. \"Label,Text\" as the book's train.csv");
    }
    return table;
  }

 private:
  [[noreturn]] void fail(int64_t line, const std::string& what) const {
    throw ConfigError(fmt::format("{}:{}: {}", source_, line, what));
  }

  bool at_end() const {
    return pos_ >= text_.size();
  }

  // The length of the line end ("\n" or "\r\n") at `at`, else 0.
  size_t line_end_at(size_t at) const {
    if (at < text_.size() && text_[at] == '\n') return 1;
    if (at + 1 < text_.size() && text_[at] == '\r' && text_[at + 1] == '\n')
      return 2;
    return 0;
  }

  // Skips blank lines (only spaces and tabs that are not the delimiter):
  // pandas' skip_blank_lines.
  void skip_blank_lines() {
    while (!at_end()) {
      size_t j = pos_;
      while (j < text_.size() && (text_[j] == ' ' || text_[j] == '\t') &&
             text_[j] != delim_)
        ++j;
      if (j == text_.size()) {
        pos_ = j;
        return;
      }
      const size_t end = line_end_at(j);
      if (end == 0) return;
      pos_ = j + end;
      ++line_;
    }
  }

  // Reads the next record into `out`; false at the end of the text.
  bool next_record(std::vector<std::string>& out) {
    skip_blank_lines();
    if (at_end()) return false;
    out.clear();
    record_line_ = line_;
    while (true) {
      out.emplace_back();
      if (!at_end() && text_[pos_] == '"') {
        quoted_field(out.back(), out.size());
      } else {
        unquoted_field(out.back(), out.size());
      }
      // Each field stops at the end, a delimiter or a line end.
      if (at_end()) return true;
      if (text_[pos_] == delim_) {
        ++pos_;  // "a," at the very end still has an empty second field
        continue;
      }
      pos_ += line_end_at(pos_);
      ++line_;
      return true;
    }
  }

  void unquoted_field(std::string& field, size_t index) {
    const size_t begin = pos_;
    while (!at_end()) {
      const char c = text_[pos_];
      if (c == delim_ || line_end_at(pos_) != 0) break;
      if (c == '"') {
        fail(
            line_,
            fmt::format(
                "'\"' inside unquoted field {}; {}", index, kQuoteHint));
      }
      ++pos_;
    }
    field.assign(text_.substr(begin, pos_ - begin));
  }

  void quoted_field(std::string& field, size_t index) {
    const int64_t open_line = line_;
    ++pos_;  // the opening quote
    while (true) {
      const size_t q = text_.find('"', pos_);
      if (q == std::string_view::npos) {
        fail(
            open_line,
            fmt::format(
                "unterminated quoted field {} (its quote opens on this line "
                "and is still open at the end of the file); {}",
                index,
                kQuoteHint));
      }
      const std::string_view span = text_.substr(pos_, q - pos_);
      for (const char c : span) line_ += c == '\n' ? 1 : 0;
      field.append(span);
      pos_ = q + 1;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        field += '"';
        ++pos_;
        continue;
      }
      break;
    }
    if (!at_end() && text_[pos_] != delim_ && line_end_at(pos_) == 0) {
      fail(
          line_,
          fmt::format(
              "text after the closing quote of field {} (got '{}'); {}",
              index,
              detail::printable(text_.substr(pos_, 1)),
              kQuoteHint));
    }
  }

  std::string_view text_;
  char delim_;
  const std::string& source_;
  size_t pos_ = 0;
  int64_t line_ = 1;
  int64_t record_line_ = 1;
  bool have_header_ = false;
};

}  // namespace

namespace detail {

std::string printable(std::string_view s) {
  constexpr size_t kMax = 40;
  size_t n = s.size();
  bool cut = false;
  if (n > kMax) {
    n = kMax;
    // Back up to the start of a UTF-8 character.
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    cut = true;
  }
  std::string out;
  out.reserve(n + 8);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (cut) out += "...";
  return out;
}

}  // namespace detail

CsvTable parse_csv(
    std::string_view text, char delimiter, const std::string& source) {
  if (delimiter == '"' || delimiter == '\n' || delimiter == '\r') {
    throw ConfigError(fmt::format(
        "{}: {} cannot be the field delimiter; hint: set data.delimiter to "
        "',', \"tab\" or another character",
        source,
        delimiter_name(delimiter)));
  }
  if (const auto bad = find_invalid_utf8(text)) {
    int64_t line = 1;
    for (size_t i = 0; i < *bad; ++i) line += text[i] == '\n' ? 1 : 0;
    throw ConfigError(fmt::format(
        "{}:{}: invalid UTF-8 at byte offset {}; hint: save the file as "
        "UTF-8 (pandas' to_csv writes UTF-8)",
        source,
        line,
        *bad));
  }
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  return CsvParser(text, delimiter, source).parse();
}

char csv_delimiter(const std::string& path, const std::string& configured) {
  if (configured.empty()) {
    const size_t slash = path.find_last_of('/');
    const size_t dot = path.find_last_of('.');
    std::string ext;
    if (dot != std::string::npos &&
        (slash == std::string::npos || dot > slash)) {
      for (const char c : path.substr(dot)) {
        ext += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      }
    }
    return ext == ".tsv" || ext == ".tab" ? '\t' : ',';
  }
  if (configured == "tab" || configured == "\\t") return '\t';
  if (configured.size() == 1) {
    const char c = configured[0];
    if (c != '"' && c != '\r' && c != '\n' &&
        static_cast<unsigned char>(c) < 0x80)
      return c;
  }
  throw ConfigError(fmt::format(
      "data.delimiter: expected \"\" (by extension: .tsv and .tab are "
      "tab-separated, others comma), \"tab\" or one character other than "
      "'\"' and a line end (got \"{}\")",
      detail::printable(configured)));
}

}  // namespace ember

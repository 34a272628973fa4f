// The book's chapter-6 files (csv.hpp, classification_data.hpp): the quoting
// pandas' to_csv writes (checked against Python's csv.writer, which to_csv
// calls, with lineterminator "\n"), BOM, blank lines, TSV, the delimiter by
// extension, the label and text checks, and each one-line error with its
// line number.
#include <algorithm>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include <catch2/catch.hpp>

#include <ember/data/classification_data.hpp>
#include <ember/data/csv.hpp>
#include <ember/util/error.hpp>

using ember::CsvTable;
using ember::LabelledText;
using ember::LabelledTextOptions;
using Rows = std::vector<std::vector<std::string>>;

namespace {

const std::string kQuoteHint =
    "hint: quote a field that holds the delimiter, a '\"' or a line end, "
    "and double each '\"' inside it (\"say \"\"hi\"\"\"), as pandas' to_csv "
    "does";

std::string csv_error(const std::string& text, char delimiter = ',') {
  try {
    ember::parse_csv(text, delimiter, "t.csv");
  } catch (const ember::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string labels_error(
    const std::string& text, const LabelledTextOptions& o = {}) {
  try {
    ember::parse_labelled_texts(text, "t.csv", ',', o);
  } catch (const ember::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// Python's csv.writer(lineterminator="\n", quoting=QUOTE_MINIMAL), as
// pandas' to_csv calls it, but quoting a lone '\r' too (Python leaves it
// bare, and a bare "x\r" before the line end reads back as "x").
std::string write_csv(const Rows& rows, char delimiter) {
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out += delimiter;
      const std::string& f = row[i];
      const bool quote =
          f.find_first_of(std::string("\"\r\n") + delimiter) !=
              std::string::npos ||
          (row.size() == 1 && f.find_first_not_of(" \t") == std::string::npos);
      if (!quote) {
        out += f;
        continue;
      }
      out += '"';
      for (const char c : f)
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
      out += '"';
    }
    out += '\n';
  }
  return out;
}

}  // namespace

TEST_CASE("parse_csv: the quoting pandas' to_csv writes", "[csv]") {
  // Python 3.11: csv.writer(f, lineterminator="\n").writerows(...) of
  // [["Label", "Text"], [0, "a, b"], [1, 'say "hi"'], [0, "two\nlines"],
  //  [1, "crlf\r\nend"], [0, " lead"], [1, "cr\ronly"]]
  const std::string text =
      "Label,Text\n0,\"a, b\"\n1,\"say \"\"hi\"\"\"\n0,\"two\nlines\"\n"
      "1,\"crlf\r\nend\"\n0, lead\n1,cr\ronly\n";
  const CsvTable t = ember::parse_csv(text, ',', "t.csv");
  CHECK(t.header == std::vector<std::string>{"Label", "Text"});
  CHECK(
      t.rows == Rows{
                    {"0", "a, b"},
                    {"1", "say \"hi\""},
                    {"0", "two\nlines"},
                    {"1", "crlf\r\nend"},
                    {"0", " lead"},
                    {"1", "cr\ronly"}});
  // A quoted line end moves the next row down a line.
  CHECK(t.row_lines == std::vector<int64_t>{2, 3, 4, 6, 8, 9});
}

TEST_CASE("parse_csv: CRLF line ends, no final line end", "[csv]") {
  const CsvTable t = ember::parse_csv(
      "Label,Text\r\n0,a\r\n1,\"b\r\nc\"\r\n0,\"\"\r\n1,last", ',', "t.csv");
  CHECK(t.rows == Rows{{"0", "a"}, {"1", "b\r\nc"}, {"0", ""}, {"1", "last"}});
  CHECK(t.row_lines == std::vector<int64_t>{2, 3, 5, 6});
}

TEST_CASE("parse_csv: BOM and blank lines are skipped", "[csv]") {
  const CsvTable t = ember::parse_csv(
      "\xEF\xBB\xBFLabel,Text\n\n0,a\n  \n\t\r\n1,b\n\n", ',', "t.csv");
  CHECK(t.header == std::vector<std::string>{"Label", "Text"});
  CHECK(t.rows == Rows{{"0", "a"}, {"1", "b"}});
  CHECK(t.row_lines == std::vector<int64_t>{3, 6});
  // Blank lines before the header, and a blank last line without "\n".
  const CsvTable u = ember::parse_csv("\n \nA\n1\n  ", ',', "t.csv");
  CHECK(u.header == std::vector<std::string>{"A"});
  CHECK(u.rows == Rows{{"1"}});
  CHECK(u.row_lines == std::vector<int64_t>{4});
  // A BOM anywhere else is text.
  CHECK(
      ember::parse_csv("A\n\xEF\xBB\xBFx\n", ',', "t.csv").rows ==
      Rows{{"\xEF\xBB\xBFx"}});
}

TEST_CASE("parse_csv: empty fields and one-column rows", "[csv]") {
  const CsvTable t = ember::parse_csv("a,b\n,\n1,\n\"\",2\n3,", ',', "t.csv");
  CHECK(t.rows == Rows{{"", ""}, {"1", ""}, {"", "2"}, {"3", ""}});
  // Python writes a one-column row with an empty field as "" (a bare empty
  // line would be skipped as blank).
  const CsvTable u = ember::parse_csv("Text\n\"\"\nx\n", ',', "t.csv");
  CHECK(u.rows == Rows{{""}, {"x"}});
}

TEST_CASE("parse_csv: tab-separated", "[csv]") {
  // csv.writer(f, lineterminator="\n", delimiter="\t"): a tab is quoted, a
  // comma is not.
  const CsvTable t = ember::parse_csv(
      "Label\tText\n0\t\"a\tb, c\"\n1\t\"q\"\"x\"\n0\tp, q\n", '\t', "t.tsv");
  CHECK(t.header == std::vector<std::string>{"Label", "Text"});
  CHECK(t.rows == Rows{{"0", "a\tb, c"}, {"1", "q\"x"}, {"0", "p, q"}});
  // With a tab delimiter a line of tabs is not blank: it holds empty fields.
  CHECK(ember::parse_csv("a\tb\n\t\n", '\t', "t.tsv").rows == Rows{{"", ""}});
}

TEST_CASE("parse_csv: random tables round-trip through a writer", "[csv]") {
  const auto seed = GENERATE(take(200, random(0u, 0xFFFFFFFFu)));
  std::mt19937 rng(seed);
  const char delimiter = seed % 2 ? '\t' : ',';
  const std::vector<std::string> pieces{
      "a", "7", ",", "\t", "\"", "\n", "\r", "\r\n", " ", "\xC3\xA9", "\"\""};
  const auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  const size_t num_cols = 2 + pick(3);
  Rows rows(1 + pick(6), std::vector<std::string>(num_cols));
  for (auto& row : rows) {
    for (auto& field : row) {
      for (size_t k = pick(5); k > 0; --k) field += pieces[pick(pieces.size())];
    }
  }
  const std::string text = write_csv(rows, delimiter);
  INFO("seed " << seed << ", text: " << text);
  const CsvTable t = ember::parse_csv(text, delimiter, "t.csv");
  CHECK(t.header == rows[0]);
  CHECK(t.rows == Rows(rows.begin() + 1, rows.end()));
  REQUIRE(t.row_lines.size() == t.rows.size());
  // Each row starts one line below the previous one's line ends.
  int64_t line = 1;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (r > 0) CHECK(t.row_lines[r - 1] == line);
    for (const auto& f : rows[r]) {
      line += static_cast<int64_t>(std::count(f.begin(), f.end(), '\n'));
    }
    ++line;
  }
}

TEST_CASE(
    "parse_csv: an unterminated quote names the line it opens on", "[csv]") {
  CHECK(
      csv_error("Label,Text\n0,a\n1,\"open\nmore\n0,b\n") ==
      "t.csv:3: unterminated quoted field 2 (its quote opens on this line and "
      "is still open at the end of the file); " +
          kQuoteHint);
  // Still the opening line after quoted line ends and doubled quotes.
  CHECK(
      csv_error("Label,Text\n1,\"a\n\"\"b\"\"\nc\n") ==
      "t.csv:2: unterminated quoted field 2 (its quote opens on this line and "
      "is still open at the end of the file); " +
          kQuoteHint);
  CHECK(
      csv_error("\"A\n") ==
      "t.csv:1: unterminated quoted field 1 (its quote opens on this line and "
      "is still open at the end of the file); " +
          kQuoteHint);
}

TEST_CASE("parse_csv: stray quotes are errors", "[csv]") {
  CHECK(
      csv_error("Label,Text\n0,ab\"c\n") ==
      "t.csv:2: '\"' inside unquoted field 2; " + kQuoteHint);
  CHECK(
      csv_error("Label,Text\n0,\"abc\"x\n") ==
      "t.csv:2: text after the closing quote of field 2 (got 'x'); " +
          kQuoteHint);
  // The line is the one the closing quote is on.
  CHECK(
      csv_error("Label,Text\n\"0\n\" ,a\n") ==
      "t.csv:3: text after the closing quote of field 1 (got ' '); " +
          kQuoteHint);
  CHECK(
      csv_error("Label,Text\n0,\"a\"\r\r\n") ==
      "t.csv:2: text after the closing quote of field 2 (got '\\r'); " +
          kQuoteHint);
}

TEST_CASE("parse_csv: a row's field count must match the header's", "[csv]") {
  CHECK(
      csv_error("Label,Text\n0,\"a\nb\"\n1,b,c\n") ==
      "t.csv:4: expected 2 fields (as the header), got 3; hint: fields are "
      "separated by ','; quote a field that holds it, or set data.delimiter");
  CHECK(
      csv_error("Label\tText\n0\ta\n\n1\n", '\t') ==
      "t.csv:4: expected 2 fields (as the header), got 1; hint: fields are "
      "separated by tab; quote a field that holds it, or set data.delimiter");
  // A comma file read as TSV: one field per row against a header of one.
  CHECK(
      ember::parse_csv("Label,Text\n0,a\n", '\t', "t.csv").header.size() == 1);
}

TEST_CASE("parse_csv: invalid UTF-8, empty files, bad delimiters", "[csv]") {
  CHECK(
      csv_error("Label,Text\n0,a\n1,\xff\n") ==
      "t.csv:3: invalid UTF-8 at byte offset 17; hint: save the file as UTF-8 "
      "(pandas' to_csv writes UTF-8)");
  // The offset counts the BOM: it is the file's.
  CHECK(
      csv_error("\xEF\xBB\xBF"
                "A\n\xC3") ==
      "t.csv:2: invalid UTF-8 at byte offset 5; hint: save the file as UTF-8 "
      "(pandas' to_csv writes UTF-8)");
  const std::string empty =
      "t.csv:1: no header row (the file is empty); hint: the first line names "
      "the columns, e.g. \"Label,Text\" as the book's train.csv";
  CHECK(csv_error("") == empty);
  CHECK(csv_error("\xEF\xBB\xBF") == empty);
  CHECK(csv_error("\n \r\n\t\n") == empty);
  CHECK(
      csv_error("a\n", '"') ==
      "t.csv: '\"' cannot be the field delimiter; hint: set data.delimiter to "
      "',', \"tab\" or another character");
  // A header alone is a table without rows.
  const CsvTable t = ember::parse_csv("Label,Text\n", ',', "t.csv");
  CHECK(t.header.size() == 2);
  CHECK(t.rows.empty());
}

TEST_CASE("csv_delimiter: by extension, or data.delimiter", "[csv]") {
  CHECK(ember::csv_delimiter("data/train.csv", "") == ',');
  CHECK(ember::csv_delimiter("data/train.tsv", "") == '\t');
  CHECK(ember::csv_delimiter("SMSSpamCollection.TSV", "") == '\t');
  CHECK(ember::csv_delimiter("x.tab", "") == '\t');
  CHECK(ember::csv_delimiter("data.tsv/train", "") == ',');
  CHECK(ember::csv_delimiter("train", "") == ',');
  CHECK(ember::csv_delimiter("train.tsv.csv", "") == ',');
  CHECK(ember::csv_delimiter("train.csv", "tab") == '\t');
  CHECK(ember::csv_delimiter("train.csv", "\\t") == '\t');
  CHECK(ember::csv_delimiter("train.csv", "\t") == '\t');
  CHECK(ember::csv_delimiter("train.tsv", ",") == ',');
  CHECK(ember::csv_delimiter("train.tsv", ";") == ';');
  CHECK(ember::csv_delimiter("train.tsv", "|") == '|');
  const auto error = [](const std::string& configured) {
    try {
      ember::csv_delimiter("train.csv", configured);
    } catch (const ember::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(
      error(";;") ==
      "data.delimiter: expected \"\" (by extension: .tsv and .tab are "
      "tab-separated, others comma), \"tab\" or one character other than '\"' "
      "and a line end (got \";;\")");
  CHECK(error("\"").find("(got \"\"\")") != std::string::npos);
  CHECK(error("\n").find("(got \"\\n\")") != std::string::npos);
  CHECK(error("\xC3\xA9").find("data.delimiter: ") == 0);
  CHECK(error("comma").find("data.delimiter: ") == 0);
}

TEST_CASE("parse_labelled_texts: the book's columns, labels 0/1", "[csv]") {
  const auto items = ember::parse_labelled_texts(
      "Label,Text\n0,\"Ok lar... Joking wif u oni...\"\n1,\"Win $$$, now\"\n",
      "t.csv",
      ',',
      {});
  REQUIRE(items.size() == 2);
  CHECK(items[0].text == "Ok lar... Joking wif u oni...");
  CHECK(items[0].label == 0);
  CHECK(items[1].text == "Win $$$, now");
  CHECK(items[1].label == 1);
}

TEST_CASE("parse_labelled_texts: columns are found by name", "[csv]") {
  LabelledTextOptions o;
  o.text_column = "sms";
  o.label_column = "class";
  o.num_classes = 3;
  // Any order, other columns ignored, the first of two same-named columns
  // (pandas names the second "sms.1"), leading zeros as int() reads them.
  const auto items = ember::parse_labelled_texts(
      "id\tsms\tclass\tsms\n7\thi there\t2\tx\n8\tbye\t000\ty\n",
      "t.tsv",
      '\t',
      o);
  REQUIRE(items.size() == 2);
  CHECK(items[0].text == "hi there");
  CHECK(items[0].label == 2);
  CHECK(items[1].text == "bye");
  CHECK(items[1].label == 0);
  CHECK(
      labels_error("Label,Txt\n0,a\n") ==
      "t.csv:1: no column 'Text' in the header (columns: 'Label', 'Txt'); "
      "hint: set data.text_column to the column of the texts");
  CHECK(
      labels_error("label,Text\n0,a\n") ==
      "t.csv:1: no column 'Label' in the header (columns: 'label', 'Text'); "
      "hint: set data.label_column to the column of the labels");
  LabelledTextOptions same;
  same.text_column = "Label";
  CHECK(
      labels_error("Label,Text\n0,a\n", same) ==
      "t.csv:1: data.text_column and data.label_column both name column "
      "'Label'; hint: the texts and the labels are two columns");
  const std::string wide = "c0,c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11\n";
  CHECK(
      labels_error(wide) ==
      "t.csv:1: no column 'Text' in the header (columns: 'c0', 'c1', 'c2', "
      "'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9' and 2 more); hint: set "
      "data.text_column to the column of the texts");
}

TEST_CASE("parse_labelled_texts: labels outside 0..num_classes-1", "[csv]") {
  CHECK(
      labels_error("Label,Text\n0,a\n\n2,b\n") ==
      "t.csv:4: label '2' is outside 0..1 (model.num_classes 2); hint: "
      "number the classes from 0, or set model.num_classes");
  CHECK(
      labels_error("Label,Text\n-1,a\n") ==
      "t.csv:2: label '-1' is outside 0..1 (model.num_classes 2); hint: "
      "number the classes from 0, or set model.num_classes");
  // Too long for int64: still out of range, not an overflow.
  CHECK(
      labels_error("Label,Text\n99999999999999999999999,a\n") ==
      "t.csv:2: label '99999999999999999999999' is outside 0..1 "
      "(model.num_classes 2); hint: number the classes from 0, or set "
      "model.num_classes");
  LabelledTextOptions three;
  three.num_classes = 3;
  CHECK(
      ember::parse_labelled_texts("Label,Text\n2,a\n", "t.csv", ',', three)
          .at(0)
          .label == 2);
  CHECK(
      labels_error("Label,Text\n3,a\n", three) ==
      "t.csv:2: label '3' is outside 0..2 (model.num_classes 3); hint: "
      "number the classes from 0, or set model.num_classes");
  LabelledTextOptions none;
  none.num_classes = 0;
  CHECK(
      labels_error("Label,Text\n0,a\n", none) ==
      "model.num_classes: expected at least 1 (got 0)");
}

TEST_CASE("parse_labelled_texts: a label must be an integer", "[csv]") {
  const auto message = [](const std::string& shown, int64_t line) {
    return "t.csv:" + std::to_string(line) + ": label '" + shown +
           "' is not an integer; hint: labels are the integers 0..1 (the book "
           "maps ham/spam to 0/1 before writing train.csv)";
  };
  CHECK(labels_error("Label,Text\n1.0,a\n") == message("1.0", 2));
  // A quote after a space is not a quoted field (pandas' skipinitialspace
  // is off).
  CHECK(
      labels_error("Label,Text\n0,a\n \"1\",b\n") ==
      "t.csv:3: '\"' inside unquoted field 1; " + kQuoteHint);
  CHECK(labels_error("Label,Text\n0,a\n\" 1\",b\n") == message(" 1", 3));
  CHECK(labels_error("Label,Text\n,a\n") == message("", 2));
  CHECK(labels_error("Label,Text\nspam,a\n") == message("spam", 2));
  CHECK(labels_error("Label,Text\n+1,a\n") == message("+1", 2));
  CHECK(labels_error("Label,Text\n-,a\n") == message("-", 2));
  CHECK(labels_error("Label,Text\n1e0,a\n") == message("1e0", 2));
  // The value is shown on one line, cut to 40 bytes.
  CHECK(labels_error("Label,Text\n\"1\n2\",a\n") == message("1\\n2", 2));
  CHECK(
      labels_error("Label,Text\n" + std::string(50, 'x') + ",a\n") ==
      message(std::string(40, 'x') + "...", 2));
}

TEST_CASE("parse_labelled_texts: empty texts and files without rows", "[csv]") {
  CHECK(
      labels_error("Label,Text\n0,a\n1,\n") ==
      "t.csv:3: empty text in column 'Text'; hint: pandas reads an empty "
      "field as NaN, which the book's tokenizer cannot encode; drop the row "
      "or give it text");
  CHECK(
      labels_error("Label,Text\n0,a\n1,\"\"\n").find("t.csv:3: empty text") ==
      0);
  // Spaces are text (pandas keeps them).
  CHECK(
      ember::parse_labelled_texts("Label,Text\n1, \n", "t.csv", ',', {})
          .at(0)
          .text == " ");
  CHECK(
      labels_error("Label,Text\n\n") ==
      "t.csv:1: a header but no rows; hint: each line after the header is one "
      "labelled text, e.g. 1,\"Win a prize\"");
  CHECK(labels_error("").find("t.csv:1: no header row") == 0);
}

TEST_CASE(
    "read_labelled_texts: the delimiter by extension, missing files", "[csv]") {
  ember::test::TempDir dir("csv");
  const std::string tsv = dir.file("train.tsv");
  std::ofstream(tsv, std::ios::binary) << "Label\tText\n1\ta, b\n0\t\"x\ty\"\n";
  const auto items = ember::read_labelled_texts(tsv, {});
  REQUIRE(items.size() == 2);
  CHECK(items[0].text == "a, b");
  CHECK(items[0].label == 1);
  CHECK(items[1].text == "x\ty");
  // The same file with data.delimiter ",": a header of one column
  // "Label\tText", and a second field after the comma in "a, b".
  LabelledTextOptions comma;
  comma.delimiter = ",";
  CHECK_THROWS_WITH(
      ember::read_labelled_texts(tsv, comma),
      tsv +
          ":2: expected 1 field (as the header), got 2; hint: fields are "
          "separated by ','; quote a field that holds it, or set "
          "data.delimiter");
  const std::string missing = dir.file("nope.csv");
  CHECK_THROWS_AS(ember::read_labelled_texts(missing, {}), ember::ConfigError);
  CHECK_THROWS_WITH(
      ember::read_labelled_texts(missing, {}),
      "read " + missing + ": no such file");
  LabelledTextOptions bad;
  bad.delimiter = "::";
  CHECK_THROWS_AS(ember::read_labelled_texts(tsv, bad), ember::ConfigError);
}

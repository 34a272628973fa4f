// libFuzzer target for the chapter-6 CSV/TSV reader (ember::parse_csv) and
// the labelled texts on top of it (ember::parse_labelled_texts): any bytes
// either parse or throw ember::ConfigError with a one-line message that
// names the file -- any other exception or a crash is a finding. A table
// that parses has header.size() fields in every row, rising row lines, and
// reads back the same after it is written out again with quotes. The first
// byte picks the delimiter (odd: tab, else comma); the rest is the file.
// Built with -DEMBER_FUZZ=ON (CXX=clang++); run with scripts/fuzz.sh csv.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <ember/data/classification_data.hpp>
#include <ember/data/csv.hpp>
#include <ember/util/error.hpp>

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

void require_message(const ember::ConfigError& e) {
  const std::string_view what(e.what());
  require(what.rfind("fuzz.csv:", 0) == 0 || what.rfind("model.", 0) == 0);
  require(what.find('\n') == std::string_view::npos);
  require(what.find('\r') == std::string_view::npos);
}

// Every field quoted: '"' doubled, the rest as is.
std::string write_quoted(const ember::CsvTable& t, char delimiter) {
  std::string out;
  const auto row = [&](const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) out += delimiter;
      out += '"';
      for (const char c : fields[i]) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
    }
    out += '\n';
  };
  row(t.header);
  for (const auto& r : t.rows) row(r);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const char delimiter = data[0] % 2 ? '\t' : ',';
  const std::string_view text(
      reinterpret_cast<const char*>(data) + 1, size - 1);
  ember::CsvTable table;
  try {
    table = ember::parse_csv(text, delimiter, "fuzz.csv");
  } catch (const ember::ConfigError& e) {
    require_message(e);
    return 0;
  }
  require(table.rows.size() == table.row_lines.size());
  for (size_t r = 0; r < table.rows.size(); ++r) {
    require(table.rows[r].size() == table.header.size());
    require(table.row_lines[r] >= 1);
    if (r > 0) require(table.row_lines[r] > table.row_lines[r - 1]);
  }
  const ember::CsvTable back =
      ember::parse_csv(write_quoted(table, delimiter), delimiter, "fuzz.csv");
  require(back.header == table.header && back.rows == table.rows);

  ember::LabelledTextOptions o;
  o.num_classes = 1 + data[0] / 64;  // 1..4
  try {
    const auto items =
        ember::parse_labelled_texts(text, "fuzz.csv", delimiter, o);
    require(!items.empty() && items.size() == table.rows.size());
    for (const auto& item : items) {
      require(!item.text.empty());
      require(item.label >= 0 && item.label < o.num_classes);
    }
  } catch (const ember::ConfigError& e) {
    require_message(e);
  }
  return 0;
}

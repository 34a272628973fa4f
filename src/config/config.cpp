#include "ember/config/config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <set>
#include <system_error>

#include "config_fields.hpp"
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

#include <ember/util/build_config.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

using detail::apply_format_defaults;
using detail::apply_preset;
using detail::Field;
using detail::fields;
using detail::Kind;
using detail::validate;

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string closest(std::string_view name, const std::vector<std::string>& to) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& c : to) {
    const size_t d = edit_distance(name, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

const std::vector<std::string>& section_names() {
  static const std::vector<std::string> kSections = {
      "data", "model", "train", "run"};
  return kSections;
}

const Field* find_field(std::string_view section, std::string_view key) {
  for (const auto& f : fields()) {
    if (section == f.section && key == f.key) return &f;
  }
  return nullptr;
}

std::string unknown_key_message(
    std::string_view where, const std::string& name) {
  return fmt::format(
      "{}: unknown key '{}'; hint: did you mean '{}'?",
      where,
      name,
      closest(name, config_keys()));
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kInt:
      return "integer";
    case Kind::kFloat:
      return "float";
    case Kind::kBool:
      return "boolean";
    case Kind::kString:
      return "string";
    case Kind::kStrings:
      return "array of strings";
  }
  return "?";
}

const char* toml_type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::string:
      return "string";
    case toml::node_type::array:
      return "array";
    case toml::node_type::table:
      return "table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
      return "date/time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string format_double(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (u < 0x20 || u == 0x7f) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(u));
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// The value of field `f` in `c`, as TOML.
std::string value_text(const Field& f, Config& c) {
  void* p = f.ref(c);
  switch (f.kind) {
    case Kind::kInt:
      return std::to_string(*static_cast<int64_t*>(p));
    case Kind::kFloat:
      return format_double(*static_cast<double*>(p));
    case Kind::kBool:
      return *static_cast<bool*>(p) ? "true" : "false";
    case Kind::kString:
      return quote(*static_cast<std::string*>(p));
    case Kind::kStrings: {
      std::vector<std::string> items;
      for (const auto& v : *static_cast<std::vector<std::string>*>(p))
        items.push_back(quote(v));
      return fmt::format("[{}]", fmt::join(items, ", "));
    }
  }
  return "";
}

void check_range(const Field& f, Config& c, std::string_view where) {
  if (f.ok == nullptr) return;
  void* p = f.ref(c);
  const double v = f.kind == Kind::kInt
                       ? static_cast<double>(*static_cast<int64_t*>(p))
                       : *static_cast<double*>(p);
  if (!f.ok(v)) {
    throw ConfigError(fmt::format(
        "{}: {} out of range (got {}, expected {})",
        where,
        f.name(),
        value_text(f, c),
        f.range));
  }
}

// A TOML array of strings into `out`; false when an item is not a string.
bool read_strings(const toml::array& a, std::vector<std::string>& out) {
  out.clear();
  for (const auto& item : a) {
    const auto* v = item.as_string();
    if (v == nullptr) return false;
    out.push_back(v->get());
  }
  return true;
}

// Sets field `f` from a TOML node; `where` is "file:line:col".
void set_from_node(
    const Field& f, Config& c, const toml::node& node, std::string_view where) {
  void* p = f.ref(c);
  bool ok = false;
  switch (f.kind) {
    case Kind::kInt:
      if (auto v = node.as_integer()) {
        *static_cast<int64_t*>(p) = v->get();
        ok = true;
      }
      break;
    case Kind::kFloat:
      if (auto v = node.as_floating_point()) {
        *static_cast<double*>(p) = v->get();
        ok = true;
      } else if (auto i = node.as_integer()) {
        *static_cast<double*>(p) = static_cast<double>(i->get());
        ok = true;
      }
      break;
    case Kind::kBool:
      if (auto v = node.as_boolean()) {
        *static_cast<bool*>(p) = v->get();
        ok = true;
      }
      break;
    case Kind::kString:
      if (auto v = node.as_string()) {
        *static_cast<std::string*>(p) = v->get();
        ok = true;
      }
      break;
    case Kind::kStrings:
      if (const auto* a = node.as_array()) {
        ok = read_strings(*a, *static_cast<std::vector<std::string>*>(p));
      }
      break;
  }
  if (!ok) {
    throw ConfigError(fmt::format(
        "{}: {} has the wrong type (got {}, expected {})",
        where,
        f.name(),
        toml_type_name(node.type()),
        kind_name(f.kind)));
  }
  check_range(f, c, where);
}

// --set's value of an array key: a TOML array (["a", "b"]) or names
// separated by commas (a,b); "" or [] is the empty list.
bool parse_strings(const std::string& value, std::vector<std::string>& out) {
  if (!value.empty() && value.front() == '[') {
    try {
      const auto t = toml::parse("v = " + value);
      const auto* a = t["v"].as_array();
      return a != nullptr && read_strings(*a, out);
    } catch (const toml::parse_error&) {
      return false;
    }
  }
  out.clear();
  size_t start = 0;
  while (start < value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    out.push_back(value.substr(start, comma - start));
    start = comma + 1;
  }
  return true;
}

std::string location(std::string_view source, const toml::source_region& r) {
  return fmt::format("{}:{}:{}", source, r.begin.line, r.begin.column);
}

// Returns the key set ("train.epochs").
std::string apply_override(Config& c, const std::string& item) {
  // Config values are TOML text, which is UTF-8: a value with other bytes
  // would be written to run.dir/config.toml as a file --resume refuses.
  if (const auto bad = find_invalid_utf8(item)) {
    // What comes before the bad byte, cut at a character boundary.
    size_t shown = std::min<size_t>(*bad, 40);
    while (shown > 0 &&
           (static_cast<unsigned char>(item[shown]) & 0xC0) == 0x80) {
      --shown;
    }
    throw ConfigError(fmt::format(
        "--set {}...: invalid UTF-8 at byte {} of the item; config values "
        "are UTF-8 text",
        item.substr(0, shown),
        *bad));
  }
  const std::string where = "--set " + item;
  const size_t eq = item.find('=');
  const std::string name = item.substr(0, eq);
  if (eq == std::string::npos) {
    throw ConfigError(fmt::format(
        "{}: expected section.key=value (e.g. train.epochs=2)", where));
  }
  const size_t dot = name.find('.');
  const Field* f = dot == std::string::npos
                       ? nullptr
                       : find_field(name.substr(0, dot), name.substr(dot + 1));
  if (f == nullptr) throw ConfigError(unknown_key_message(where, name));
  std::string value = item.substr(eq + 1);
  void* p = f->ref(c);
  auto wrong = [&] {
    return ConfigError(fmt::format(
        "{}: {} has the wrong type (got '{}', expected {})",
        where,
        f->name(),
        value,
        kind_name(f->kind)));
  };
  switch (f->kind) {
    case Kind::kInt: {
      int64_t v = 0;
      const char* end = value.data() + value.size();
      const auto r = std::from_chars(value.data(), end, v);
      if (r.ec == std::errc::result_out_of_range) {
        throw ConfigError(fmt::format(
            "{}: {} out of range (got {}, expected {})",
            where,
            f->name(),
            value,
            f->range));
      }
      if (value.empty() || r.ec != std::errc() || r.ptr != end) throw wrong();
      *static_cast<int64_t*>(p) = v;
      break;
    }
    case Kind::kFloat: {
      char* end = nullptr;
      const double v = value.empty() ? 0.0 : std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size()) throw wrong();
      *static_cast<double*>(p) = v;
      break;
    }
    case Kind::kBool:
      if (value == "true") {
        *static_cast<bool*>(p) = true;
      } else if (value == "false") {
        *static_cast<bool*>(p) = false;
      } else {
        throw wrong();
      }
      break;
    case Kind::kString:
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      *static_cast<std::string*>(p) = value;
      break;
    case Kind::kStrings:
      if (!parse_strings(value, *static_cast<std::vector<std::string>*>(p)))
        throw wrong();
      break;
  }
  check_range(*f, c, where);
  return name;
}

}  // namespace

const std::vector<std::string>& config_keys() {
  static const std::vector<std::string> kKeys = [] {
    std::vector<std::string> out;
    for (const auto& f : fields()) out.push_back(f.name());
    return out;
  }();
  return kKeys;
}

Config parse_config(
    std::string_view text,
    std::string_view source,
    const std::vector<std::string>& overrides) {
  Config c;
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format(
        "{}: toml syntax error: {}",
        location(source, e.source()),
        e.description()));
  }
  std::set<std::string> explicit_keys;
  for (const auto& [section_key, node] : root) {
    const std::string section(section_key.str());
    const std::string where = location(source, section_key.source());
    const auto* table = node.as_table();
    const bool known =
        std::count(section_names().begin(), section_names().end(), section) !=
        0;
    if (table == nullptr || !known) {
      if (table == nullptr) {
        // A key outside any section: suggest the full name it may mean.
        throw ConfigError(unknown_key_message(where, section));
      }
      throw ConfigError(fmt::format(
          "{}: unknown section '[{}]'; hint: did you mean '[{}]'?",
          where,
          section,
          closest(section, section_names())));
    }
    for (const auto& [key, value] : *table) {
      const std::string key_where = location(source, key.source());
      const Field* f = find_field(section, key.str());
      if (f == nullptr) {
        throw ConfigError(unknown_key_message(
            key_where, section + "." + std::string(key.str())));
      }
      set_from_node(*f, c, value, key_where);
      explicit_keys.insert(f->name());
    }
  }
  for (const auto& item : overrides)
    explicit_keys.insert(apply_override(c, item));
  apply_preset(c, explicit_keys, source);
  apply_format_defaults(c, explicit_keys);
  validate(c, source);
  return c;
}

std::string resolve_data_path(
    const std::string& path,
    const std::string& data_dir,
    std::string_view key) {
  namespace fs = std::filesystem;
  const std::string dir =
      data_dir.empty() ? std::string(build::kDefaultDataDir) : data_dir;
  std::vector<fs::path> candidates{fs::path(path)};
  if (fs::path(path).is_relative()) candidates.push_back(fs::path(dir) / path);
  for (const auto& p : candidates) {
    std::error_code ec;
    const auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) continue;
    if (fs::is_directory(st)) {
      throw ConfigError(fmt::format(
          "{}: '{}' is a directory, expected a text or token file",
          key,
          p.string()));
    }
    return fs::absolute(p, ec).lexically_normal().string();
  }
  if (fs::path(path).is_relative()) {
    throw ConfigError(fmt::format(
        "{}: no such file '{}' (looked in the current directory and in "
        "{}){}",
        key,
        path,
        dir,
        key == "data.path"
            ? "; hint: run scripts/setup.sh to fetch the-verdict.txt"
            : ""));
  }
  throw ConfigError(fmt::format("{}: no such file '{}'", key, path));
}

Config load_config(
    const std::string& path, const std::vector<std::string>& overrides) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw ConfigError(e.what());
  }
  Config c = parse_config(text, path, overrides);
  if (c.data.train_path.empty()) {
    c.data.path = resolve_data_path(c.data.path);
  } else {
    // data.path is not used then: it may even name no file.
    c.data.train_path =
        resolve_data_path(c.data.train_path, "", "data.train_path");
    c.data.val_path = resolve_data_path(c.data.val_path, "", "data.val_path");
  }
  if (!c.data.test_path.empty())
    c.data.test_path =
        resolve_data_path(c.data.test_path, "", "data.test_path");
  return c;
}

std::string to_toml(const Config& config) {
  Config c = config;
  std::string out;
  std::string section;
  for (const auto& f : fields()) {
    if (section != f.section) {
      if (!section.empty()) out += "\n";
      section = f.section;
      out += "[" + section + "]\n";
    }
    out += fmt::format("{} = {}\n", f.key, value_text(f, c));
  }
  return out;
}

std::vector<std::string> differing_keys(const Config& a, const Config& b) {
  Config ca = a;
  Config cb = b;
  std::vector<std::string> out;
  for (const auto& f : fields()) {
    if (value_text(f, ca) != value_text(f, cb)) out.push_back(f.name());
  }
  return out;
}

void check_token_id(
    int64_t id, const ModelConfig& m, const std::string& where) {
  if (id >= 0 && id < m.vocab_size) return;
  throw ConfigError(fmt::format(
      "{}: token id {} is outside the model's vocabulary (vocab_size {})",
      where,
      id,
      m.vocab_size));
}

}  // namespace ember

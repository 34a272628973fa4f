// Notes: the reader accepts what Python's json.load accepts for the book's
// file (an array of objects) and JSON Lines, and names the entry and the key
// of the first problem. nlohmann's parser is iterative, so deep nesting does
// not recurse on the stack; error messages name types, never dump values.
#include "ember/data/instruction_data.hpp"

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember {
namespace {

using nlohmann::json;

std::string type_of(const json& v) {
  // json's type_name(): "null", "number", "array", ...
  return v.type_name();
}

// `key` of entry `where` as a string ("" when optional and missing).
std::string string_field(
    const json& entry,
    const char* key,
    bool required,
    const std::string& where) {
  const auto it = entry.find(key);
  if (it == entry.end()) {
    if (!required) return "";
    throw ConfigError(fmt::format(
        "{}: missing key '{}'; hint: every entry needs \"instruction\" and "
        "\"output\" strings (\"input\" is optional)",
        where,
        key));
  }
  if (!it->is_string()) {
    throw ConfigError(fmt::format(
        "{}: '{}' is {} {}, expected a string",
        where,
        key,
        it->is_array() || it->is_object() ? "an" : "a",
        type_of(*it)));
  }
  return it->get<std::string>();
}

InstructionEntry to_entry(const json& v, const std::string& where) {
  if (!v.is_object()) {
    throw ConfigError(fmt::format(
        "{}: {} {}, expected an object with \"instruction\" and \"output\"",
        where,
        v.is_array() || v.is_object() ? "an" : "a",
        type_of(v)));
  }
  InstructionEntry e;
  e.instruction = string_field(v, "instruction", true, where);
  e.input = string_field(v, "input", false, where);
  e.output = string_field(v, "output", true, where);
  return e;
}

json parse_json(std::string_view text, const std::string& where) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    // e.what(): "[json.exception.parse_error.101] parse error at line 1,
    // column 2: syntax error while parsing value - ..."; keep the part
    // after the id, with the byte offset that nlohmann counts.
    std::string what = e.what();
    const auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    throw ConfigError(
        fmt::format("{}: not JSON (byte offset {}: {})", where, e.byte, what));
  } catch (const json::exception& e) {
    // A number out of range (out_of_range.406) and the like.
    std::string what = e.what();
    const auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    if (what.size() > 120) what = what.substr(0, 120) + "...";
    throw ConfigError(fmt::format("{}: not JSON ({})", where, what));
  }
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

}  // namespace

std::vector<InstructionEntry> parse_instruction_data(
    std::string_view text, std::string_view source) {
  const std::string file = fmt::format("data.path {}", source);
  if (auto bad = find_invalid_utf8(text)) {
    throw ConfigError(
        fmt::format("{}: invalid UTF-8 at byte offset {}", file, *bad));
  }
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    throw ConfigError(fmt::format(
        "{}: no entries (the file is empty); hint: a JSON array of "
        "{{\"instruction\", \"input\", \"output\"}} objects, or one such "
        "object per line",
        file));
  }
  std::vector<InstructionEntry> out;
  if (text[first] == '[') {
    const json all = parse_json(text, file);
    if (!all.is_array()) {
      throw ConfigError(fmt::format("{}: expected a JSON array", file));
    }
    out.reserve(all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      out.push_back(to_entry(all[i], fmt::format("{}: entry {}", file, i)));
    }
    return out;
  }
  // JSON Lines: one object per non-blank line.
  size_t line_no = 0;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    ++line_no;
    const std::string_view line = text.substr(begin, end - begin);
    if (!is_blank(line)) {
      const std::string where =
          fmt::format("{}: line {} (entry {})", file, line_no, out.size());
      out.push_back(to_entry(parse_json(line, where), where));
    }
    begin = end + 1;
  }
  return out;
}

std::vector<InstructionEntry> read_instruction_data(const std::string& path) {
  return parse_instruction_data(read_file(path), path);
}

std::string format_input(const InstructionEntry& entry) {
  std::string out =
      "Below is an instruction that describes a task. "
      "Write a response that appropriately completes the request."
      "\n\n### Instruction:\n";
  out += entry.instruction;
  if (!entry.input.empty()) {
    out += "\n\n### Input:\n";
    out += entry.input;
  }
  return out;
}

std::string format_response(const InstructionEntry& entry) {
  return "\n\n### Response:\n" + entry.output;
}

std::string with_responses_json(
    std::string_view text,
    size_t begin,
    const std::vector<std::string>& responses) {
  using ordered = nlohmann::ordered_json;
  const size_t first = text.find_first_not_of(" \t\r\n");
  ordered all = ordered::array();
  if (first != std::string_view::npos && text[first] == '[') {
    all = ordered::parse(text.begin(), text.end());
  } else {  // JSON Lines
    size_t at = 0;
    while (at <= text.size()) {
      size_t end = text.find('\n', at);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view line = text.substr(at, end - at);
      if (!is_blank(line))
        all.push_back(ordered::parse(line.begin(), line.end()));
      at = end + 1;
    }
  }
  ordered out = ordered::array();
  for (size_t i = 0; i < responses.size(); ++i) {
    ordered entry = all.at(begin + i);
    entry["model_response"] = responses[i];
    out.push_back(std::move(entry));
  }
  // Python's ensure_ascii also escapes DEL (0x7f), which nlohmann keeps.
  std::string dumped = out.dump(4, ' ', true);
  std::string result;
  result.reserve(dumped.size());
  for (const char ch : dumped) {
    if (ch == '\x7f') {
      result += "\\u007f";
    } else {
      result += ch;
    }
  }
  return result;
}

InstructionSplit split_instruction_data(
    size_t n, double train_ratio, double test_ratio) {
  // Python's int(len(data) * 0.85): the double product, truncated.
  InstructionSplit s;
  s.train = static_cast<size_t>(static_cast<double>(n) * train_ratio);
  s.test = static_cast<size_t>(static_cast<double>(n) * test_ratio);
  if (s.train > n) s.train = n;
  if (s.test > n - s.train) s.test = n - s.train;
  s.val = n - s.train - s.test;
  return s;
}

}  // namespace ember

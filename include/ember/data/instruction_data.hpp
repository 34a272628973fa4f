// The book's chapter-7 instruction data (ch07/01_main-chapter-code,
// gpt_instruction_finetuning.py): entries {"instruction", "input", "output"}
// read from a JSON array (the book's instruction-data.json) or JSON Lines,
// the Alpaca-style prompt of format_input, and the split by entries in file
// order. Plain C++17: no LibTorch (the batches are in instruction_dataset.hpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

/// One entry. `input` is "" when the file's entry has none or an empty one
/// (both give the book's prompt without an "### Input:" part).
struct InstructionEntry {
  std::string instruction;
  std::string input;
  std::string output;
};

/// Parses `text`: a JSON array of objects, or JSON Lines (one object per
/// non-blank line). "instruction" and "output" are required strings,
/// "input" an optional string; other keys are kept out. `source` names the
/// file in messages. Throws ember::Error with one line:
///   "data.path d.json: entry 12: missing key 'output'"
///   "data.path d.json: entry 3: 'input' is a number, expected a string"
///   "data.path d.json: not JSON: syntax error at byte offset 120 ..."
///   "data.path d.jsonl: line 7: not JSON: ..."
/// (entries are numbered from 0, as data[12] in the book's notebook).
std::vector<InstructionEntry> parse_instruction_data(
    std::string_view text, std::string_view source);

/// Reads the file at `path` and parses it (parse_instruction_data).
std::vector<InstructionEntry> read_instruction_data(const std::string& path);

/// The book's format_input: the instruction prompt, with the
/// "\n\n### Input:\n..." part only when the input is not empty.
std::string format_input(const InstructionEntry& entry);

/// The book's response part: "\n\n### Response:\n" + output.
std::string format_response(const InstructionEntry& entry);

/// The book's split by entries in file order: train = first
/// int(n * train_ratio), test = the next int(n * test_ratio), validation =
/// the rest (935 / 110 / 55 for the book's 1,100 entries with 0.85, 0.10).
struct InstructionSplit {
  size_t train = 0;
  size_t test = 0;
  size_t val = 0;
};
InstructionSplit split_instruction_data(
    size_t n, double train_ratio, double test_ratio);

/// The book's instruction-data-with-response.json: entries [begin, begin +
/// responses.size()) of the instruction file `text` (as parsed above),
/// each with its keys in file order and "model_response" added (replaced
/// if present), written as Python's json.dump(entries, f, indent=4):
/// 4-space indent, ", " and ": " separators, non-ASCII as \uXXXX escapes,
/// no final newline.
std::string with_responses_json(
    std::string_view text,
    size_t begin,
    const std::vector<std::string>& responses);

}  // namespace ember

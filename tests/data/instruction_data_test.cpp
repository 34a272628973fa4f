// The book's chapter-7 data (instruction_data.hpp, instruction_dataset.hpp):
// its printed figures that need no weights (the split 935/55/110, the
// prompts of data[50] and data[999], the collate toy batch), the exercise
// 7.2 mask, truncation, JSON Lines, and the reader's one-line errors.
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <ember_test_paths.hpp>

#include <ember/data/instruction_data.hpp>
#include <ember/data/instruction_dataset.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>

using ember::EncodedEntry;
using ember::InstructionEntry;

namespace {

std::vector<InstructionEntry> book_data() {
  return ember::read_instruction_data(
      std::string(EMBER_SOURCE_DIR) + "/data/instruction-data.json");
}

std::vector<int64_t> row(const at::Tensor& t, int64_t r) {
  const auto c = t[r].contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

std::string error_of(const std::string& text) {
  try {
    ember::parse_instruction_data(text, "d.json");
  } catch (const ember::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE(
    "instruction data: the book's file, split 935/55/110", "[instruction]") {
  const auto data = book_data();
  REQUIRE(data.size() == 1100);
  const auto s = ember::split_instruction_data(data.size(), 0.85, 0.10);
  CHECK(s.train == 935);
  CHECK(s.val == 55);
  CHECK(s.test == 110);
  CHECK(data[999].instruction == "What is an antonym of 'complicated'?");
  CHECK(data[999].input.empty());
  CHECK(data[999].output == "An antonym of 'complicated' is 'simple'.");
}

TEST_CASE(
    "instruction data: format_input of data[50] and data[999] as printed",
    "[instruction]") {
  const auto data = book_data();
  const std::string header =
      "Below is an instruction that describes a task. Write a response that "
      "appropriately completes the request.\n\n### Instruction:\n";
  CHECK(
      ember::format_input(data[50]) + ember::format_response(data[50]) ==
      header +
          "Identify the correct spelling of the following word.\n\n"
          "### Input:\nOcassion\n\n### Response:\n"
          "The correct spelling is 'Occasion.'");
  // No input: no "### Input:" part.
  CHECK(
      ember::format_input(data[999]) + ember::format_response(data[999]) ==
      header +
          "What is an antonym of 'complicated'?\n\n### Response:\n"
          "An antonym of 'complicated' is 'simple'.");
}

TEST_CASE(
    "instruction data: the split truncates as Python's int()",
    "[instruction]") {
  const auto s = ember::split_instruction_data(10, 0.85, 0.10);
  CHECK(s.train == 8);  // int(8.5)
  CHECK(s.test == 1);   // int(1.0)
  CHECK(s.val == 1);
  const auto none = ember::split_instruction_data(3, 0.85, 0.10);
  CHECK(none.train == 2);
  CHECK(none.test == 0);
  CHECK(none.val == 1);
}

TEST_CASE(
    "instruction collate: the book's toy batch ([0..4], [5, 6], [7, 8, 9])",
    "[instruction]") {
  const EncodedEntry a{{0, 1, 2, 3, 4}, 0};
  const EncodedEntry b{{5, 6}, 0};
  const EncodedEntry c{{7, 8, 9}, 0};
  const auto batch = ember::collate_instructions({&a, &b, &c}, {});
  REQUIRE(batch.inputs.sizes() == at::IntArrayRef({3, 5}));
  CHECK(row(batch.inputs, 0) == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(
      row(batch.inputs, 1) == std::vector<int64_t>{5, 6, 50256, 50256, 50256});
  CHECK(row(batch.inputs, 2) == std::vector<int64_t>{7, 8, 9, 50256, 50256});
  CHECK(row(batch.targets, 0) == std::vector<int64_t>{1, 2, 3, 4, 50256});
  CHECK(
      row(batch.targets, 1) ==
      std::vector<int64_t>{6, 50256, -100, -100, -100});
  CHECK(row(batch.targets, 2) == std::vector<int64_t>{8, 9, 50256, -100, -100});
}

TEST_CASE(
    "instruction collate: mask_prompt (exercise 7.2) and truncation",
    "[instruction]") {
  const EncodedEntry a{{10, 11, 12, 13, 14, 15}, 3};
  const EncodedEntry b{{20, 21}, 1};
  ember::CollateOptions opt;
  opt.mask_prompt = true;
  auto batch = ember::collate_instructions({&a, &b}, opt);
  // targets[:prompt_length - 1] = -100, after the padding mask.
  CHECK(
      row(batch.targets, 0) ==
      std::vector<int64_t>{-100, -100, 13, 14, 15, 50256});
  CHECK(
      row(batch.targets, 1) ==
      std::vector<int64_t>{21, 50256, -100, -100, -100, -100});
  opt.max_length = 4;  // allowed_max_length: the first 4 columns
  batch = ember::collate_instructions({&a, &b}, opt);
  REQUIRE(batch.inputs.sizes() == at::IntArrayRef({2, 4}));
  CHECK(row(batch.inputs, 0) == std::vector<int64_t>{10, 11, 12, 13});
  CHECK(row(batch.targets, 0) == std::vector<int64_t>{-100, -100, 13, 14});
  CHECK(row(batch.inputs, 1) == std::vector<int64_t>{20, 21, 50256, 50256});
}

TEST_CASE(
    "instruction source: prompt lengths counted as the book does",
    "[instruction]") {
  const auto tok = ember::Tokenizer::gpt2();
  const std::vector<InstructionEntry> entries{{"Say hi.", "", "Hi."}};
  ember::CollateOptions opt;
  opt.mask_prompt = true;
  const ember::InstructionSource src(entries, tok, opt, 0, "d.json");
  const auto& e = src.encoded().at(0);
  const auto prompt = tok.encode(ember::format_input(entries[0]));
  const auto full = tok.encode(
      ember::format_input(entries[0]) + ember::format_response(entries[0]));
  CHECK(e.prompt_length == static_cast<int64_t>(prompt.size()));
  CHECK(e.ids == std::vector<int64_t>(full.begin(), full.end()));
  // Special-token text in an entry raises as tiktoken's encode does, naming
  // the entry.
  const std::vector<InstructionEntry> bad{
      {"a", "", "b"}, {"x <|endoftext|>", "", "y"}};
  CHECK_THROWS_WITH(
      ember::InstructionSource(bad, tok, opt, 10, "d.json"),
      Catch::Contains("data.path d.json: entry 11:") &&
          Catch::Contains("<|endoftext|>"));
}

TEST_CASE(
    "instruction data: JSON Lines, a missing or empty input", "[instruction]") {
  const auto data = ember::parse_instruction_data(
      "{\"instruction\": \"a\", \"output\": \"b\"}\n\n"
      "{\"instruction\": \"c\", \"input\": \"\", \"output\": \"d\", "
      "\"extra\": 1}\n",
      "d.jsonl");
  REQUIRE(data.size() == 2);
  CHECK(data[0].input.empty());
  CHECK(data[1].instruction == "c");
  CHECK(ember::format_input(data[0]).find("### Input:") == std::string::npos);
}

TEST_CASE(
    "instruction data: one-line errors name the file, the entry and the key",
    "[instruction]") {
  CHECK(
      error_of("[{\"instruction\": \"a\", \"output\": \"b\"}, "
               "{\"instruction\": \"a\"}]") ==
      "data.path d.json: entry 1: missing key 'output'; hint: every entry "
      "needs \"instruction\" and \"output\" strings (\"input\" is optional)");
  CHECK(
      error_of("[{\"instruction\": \"a\", \"input\": 3, \"output\": \"b\"}]") ==
      "data.path d.json: entry 0: 'input' is a number, expected a string");
  CHECK(
      error_of("[{\"instruction\": \"a\", \"output\": \"b\"}, 7]") ==
      "data.path d.json: entry 1: a number, expected an object with "
      "\"instruction\" and \"output\"");
  CHECK_THAT(
      error_of("[{\"instruction\": \"a\""),
      Catch::StartsWith("data.path d.json: not JSON (byte offset"));
  CHECK_THAT(
      error_of("{\"instruction\": \"a\", \"output\": \"b\"}\n{oops}\n"),
      Catch::StartsWith("data.path d.json: line 2 (entry 1): not JSON"));
  // nlohmann's out_of_range, not a parse_error: still one line (fuzzing).
  CHECK_THAT(
      error_of(
          "[{\"instruction\": \"a\", \"output\": \"b\", \"n\": 1" +
          std::string(400, '1') + "}]"),
      Catch::StartsWith("data.path d.json: not JSON (number overflow"));
  CHECK_THAT(
      error_of("  \n"), Catch::StartsWith("data.path d.json: no entries"));
  CHECK_THAT(
      error_of("[\"\xff\"]"),
      Catch::StartsWith("data.path d.json: invalid UTF-8 at byte offset 2"));
  CHECK(
      error_of("{\"a\": 1}") ==
      "data.path d.json: line 1 (entry 0): missing key 'instruction'; hint: "
      "every entry needs \"instruction\" and \"output\" strings (\"input\" "
      "is optional)");
}

// libFuzzer target for the chapter-7 instruction file reader
// (ember::parse_instruction_data): any bytes either give entries or throw
// ember::ConfigError with a message -- any other exception, a crash or a
// stack overflow on deep nesting is a finding. Entries that load must format
// (format_input), split, and write back as the book's
// instruction-data-with-response.json (with_responses_json), which must
// parse again with one "model_response" per entry. Built with
// -DEMBER_FUZZ=ON (CXX=clang++); run with scripts/fuzz.sh instruction_data.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <ember/data/instruction_data.hpp>
#include <ember/util/error.hpp>

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<ember::InstructionEntry> entries;
  try {
    entries = ember::parse_instruction_data(text, "fuzz.json");
  } catch (const ember::ConfigError& e) {
    require(std::string_view(e.what()).rfind("data.path fuzz.json: ", 0) == 0);
    return 0;
  }
  for (const auto& e : entries) {
    const std::string prompt = ember::format_input(e);
    require(prompt.size() >= e.instruction.size() + e.input.size());
  }
  const auto split = ember::split_instruction_data(entries.size(), 0.85, 0.1);
  require(split.train + split.test + split.val == entries.size());
  std::vector<std::string> responses(entries.size(), "r\xc3\xa9");
  const std::string out = ember::with_responses_json(text, 0, responses);
  const auto back = nlohmann::json::parse(out);
  require(back.is_array() && back.size() == entries.size());
  for (const auto& e : back) require(e.at("model_response") == "r\xc3\xa9");
  return 0;
}

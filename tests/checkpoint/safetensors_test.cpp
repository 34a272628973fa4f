// parse_safetensors on hand-made headers: the bounds that keep a hostile
// header from exhausting the stack or memory (issue 22). The format's other
// refusals run through the driver in tests/cli/bad_input.sh.
#include <cstdint>
#include <string>

#include <catch2/catch.hpp>

#include <ember/checkpoint/safetensors.hpp>
#include <ember/util/error.hpp>

namespace {

// An 8-byte little-endian length, then `header`.
std::string file_of(const std::string& header) {
  std::string out;
  for (int k = 0; k < 8; ++k) {
    out += static_cast<char>((uint64_t{header.size()} >> (8 * k)) & 0xFF);
  }
  return out + header;
}

}  // namespace

TEST_CASE(
    "parse_safetensors: a header nested deeper than 64 is refused",
    "[safetensors]") {
  // 100,000 deep: dump() in an error message overflowed the stack.
  const std::string deep =
      "{\"a\": " + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  CHECK_THROWS_WITH(
      ember::parse_safetensors(file_of(deep), "m.safetensors"),
      "m.safetensors: the JSON header (bytes 8-200015) nests deeper than 64 "
      "levels at byte 77");
  // Brackets inside strings do not nest; 64 levels are read.
  const std::string quoted =
      "{\"" + std::string(100, '[') + "\": {\"dtype\": \"F32\"}}";
  CHECK_THROWS_WITH(
      ember::parse_safetensors(file_of(quoted), "m.safetensors"),
      Catch::Contains("expected an object with dtype, shape and data_offsets"));
  const std::string deep64 =
      "{\"a\": " + std::string(63, '[') + std::string(63, ']') + "}";
  CHECK_THROWS_WITH(
      ember::parse_safetensors(file_of(deep64), "m.safetensors"),
      "m.safetensors: tensor 'a': expected an object with dtype, shape and "
      "data_offsets (got " +
          std::string(63, '[') + std::string(14, ']') + "...)");
}

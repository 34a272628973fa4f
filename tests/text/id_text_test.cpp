#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <ember/text/id_text.hpp>
#include <ember/text/token_file.hpp>
#include <ember/util/error.hpp>

using ember::parse_decode_input;
using ember::parse_id_text;
using ember::TokenId;

TEST_CASE("parse_id_text: whitespace-separated ids", "[tokenizer]") {
  REQUIRE(
      parse_id_text(" 31373\n995 ", "f", 50257) ==
      std::vector<TokenId>{31373, 995});
  REQUIRE(
      parse_id_text("\t0\r\n50256\v\f1", "f", 50257) ==
      std::vector<TokenId>{0, 50256, 1});
  REQUIRE(parse_id_text("", "f", 50257).empty());
  REQUIRE(parse_id_text(" \n\t ", "f", 50257).empty());
  REQUIRE(parse_id_text("007", "f", 50257) == std::vector<TokenId>{7});
}

TEST_CASE(
    "parse_id_text: errors name the token, index and byte", "[tokenizer]") {
  REQUIRE_THROWS_WITH(
      parse_id_text("31373 x", "<stdin>", 50257),
      "decode: <stdin>: token 'x' at index 1 (byte 6) is not an id (expected "
      "a decimal integer from 0 to 50256)");
  REQUIRE_THROWS_WITH(
      parse_id_text("1 -5", "f", 50257),
      "decode: f: token '-5' at index 1 (byte 2) is not an id (expected a "
      "decimal integer from 0 to 50256)");
  REQUIRE_THROWS_WITH(
      parse_id_text("1 2 50257", "f", 50257),
      "decode: f: id 50257 at index 2 (byte 4) is outside the vocabulary "
      "(expected 0 to 50256)");
  // Far beyond 64 bits: saturates, still reported as out of range.
  REQUIRE_THROWS_WITH(
      parse_id_text("99999999999999999999999999", "f", 50257),
      "decode: f: id 99999999999999999999999999 at index 0 (byte 0) is "
      "outside the vocabulary (expected 0 to 50256)");
  REQUIRE_THROWS_AS(parse_id_text("1,2", "f", 50257), ember::TokenizerError);
}

TEST_CASE(
    "parse_decode_input: token files by magic, ids checked", "[tokenizer]") {
  const std::vector<TokenId> ids = {31373, 995, 50256};
  REQUIRE(
      parse_decode_input(ember::encode_token_file(ids, 16), "t.bin", 50257) ==
      ids);
  REQUIRE(
      parse_decode_input(ember::encode_token_file(ids, 32), "t.bin", 50257) ==
      ids);
  // A 16-bit file holds ids up to 65535: refused here, naming the file.
  REQUIRE_THROWS_WITH(
      parse_decode_input(
          ember::encode_token_file({1, 65535}, 16), "t.bin", 50257),
      "decode: token file t.bin: id 65535 at index 1 is outside the "
      "vocabulary (expected 0 to 50256)");
  // A damaged payload is the token file's own error (checksum).
  std::string bad = ember::encode_token_file(ids, 16);
  bad.at(66) = static_cast<char>(bad.at(66) ^ 1);
  REQUIRE_THROWS_WITH(
      parse_decode_input(bad, "t.bin", 50257),
      Catch::StartsWith("token file t.bin: checksum mismatch"));
}

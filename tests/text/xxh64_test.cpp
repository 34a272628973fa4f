#include <algorithm>
#include <cstdint>
#include <string>

#include <catch2/catch.hpp>

#include <ember/text/xxh64.hpp>

namespace {
// Bytes (i * 7 + 3) mod 256: the files the expected values were made from.
std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + 3) % 256);
  return s;
}
uint64_t xxh(const std::string& s) {
  return ember::xxh64(s.data(), s.size());
}
}  // namespace

// Expected values from xxhsum -H64 (Debian's xxhash 0.8.1), e.g.
// printf abc | xxhsum -H64; across the 4-, 8- and 32-byte steps of the
// algorithm.
TEST_CASE("xxh64: the reference implementation's values", "[tokenizer]") {
  CHECK(xxh("") == 0xef46db3751d8e999ull);
  CHECK(xxh("a") == 0xd24ec4f1a98c6e5bull);
  CHECK(xxh("abc") == 0x44bc2cf5ad770999ull);
  CHECK(
      xxh("The quick brown fox jumps over the lazy dog") ==
      0x0b242d361fda71bcull);
  CHECK(xxh(pattern(31)) == 0xa2aa5f33cc4a6119ull);
  CHECK(xxh(pattern(32)) == 0x23c3c17ef790fd97ull);
  CHECK(xxh(pattern(33)) == 0x50a7cfc7ba588784ull);
  CHECK(xxh(pattern(100)) == 0xa61f8d4c170fe531ull);
  CHECK(xxh(pattern(1000003)) == 0x293d731da18115efull);
}

TEST_CASE("xxh64: streaming in any pieces equals one call", "[tokenizer]") {
  const std::string data = pattern(1000003);
  const uint64_t whole = xxh(data);
  for (size_t piece : {1, 3, 31, 32, 33, 4096, 65537}) {
    ember::Xxh64 h;
    for (size_t at = 0; at < data.size(); at += piece) {
      h.update(data.data() + at, std::min(piece, data.size() - at));
    }
    CHECK(h.digest() == whole);
  }
  ember::Xxh64 h;
  h.update("ab", 2);
  CHECK(h.digest() == xxh("ab"));  // digest() leaves the state as it was
  h.update("c", 1);
  CHECK(h.digest() == xxh("abc"));
  CHECK(ember::xxh64("abc", 3, 1) != ember::xxh64("abc", 3, 0));  // the seed
}

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include <catch2/catch.hpp>
#include <unistd.h>

#include <ember/text/mapped_token_file.hpp>
#include <ember/text/token_file.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

using ember::TokenId;

namespace {

using TempDir = ember::test::TempDir;

}  // namespace

TEST_CASE(
    "MappedTokenFile: serves the written ids at both widths", "[tokenizer]") {
  TempDir tmp("mapped_test");
  std::vector<TokenId> ids(1000);
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = static_cast<TokenId>((i * 7919) % 50257);
  ids[3] = 65535;
  for (uint32_t width : {16u, 32u}) {
    const std::string path = tmp.file("m" + std::to_string(width) + ".bin");
    ember::TokenFileWriter w(path, width);
    w.append(ids);
    w.finish();
    const ember::MappedTokenFile m(path);
    REQUIRE(m.size() == ids.size());
    REQUIRE(m.header().width_bits == width);
    for (size_t i = 0; i < ids.size(); ++i) REQUIRE(m.at(i) == ids[i]);
    std::vector<int64_t> out(10);
    m.copy_to(990, 10, out.data());
    for (size_t k = 0; k < 10; ++k)
      REQUIRE(out[k] == static_cast<int64_t>(ids[990 + k]));
    REQUIRE_THROWS_AS(m.copy_to(995, 10, out.data()), ember::Error);
  }
}

TEST_CASE(
    "MappedTokenFile: refuses truncated and corrupt files", "[tokenizer]") {
  TempDir tmp("mapped_test");
  const std::string path = tmp.file("c.bin");
  {
    ember::TokenFileWriter w(path, 16);
    w.append(std::vector<TokenId>{1, 2, 3, 4});
    w.finish();
  }
  {
    // Flip one payload byte: the size still matches, the checksum does not.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(ember::kTokenFileHeaderSize));
    f.put('\x7f');
  }
  REQUIRE_THROWS_WITH(
      ember::MappedTokenFile(path), Catch::Contains("checksum mismatch"));
  // Opting out of the checksum pass accepts it (size and header are fine).
  REQUIRE(ember::MappedTokenFile(path, false).size() == 4);
  std::filesystem::resize_file(path, ember::kTokenFileHeaderSize + 3);
  REQUIRE_THROWS_WITH(
      ember::MappedTokenFile(path, false),
      Catch::Contains("does not match the header"));
}

TEST_CASE(
    "MappedTokenFile: a version 1 file (FNV-1a 64) maps and verifies",
    "[tokenizer]") {
  TempDir tmp("mapped_test");
  const std::string path = tmp.file("v1.bin");
  std::string v1 = ember::encode_token_file({9, 8, 50256}, 16, "gpt2");
  v1[8] = 1;  // version 1: same layout, FNV-1a 64 checksum
  const uint64_t sum = ember::fnv1a64(v1.data() + 64, v1.size() - 64);
  for (int i = 0; i < 8; ++i) v1[24 + i] = static_cast<char>(sum >> (8 * i));
  ember::write_file_atomic(path, v1);
  const ember::MappedTokenFile m(path);
  REQUIRE(m.size() == 3);
  CHECK(m.header().version == 1);
  v1[65] = static_cast<char>(v1[65] ^ 1);
  ember::write_file_atomic(path, v1);
  REQUIRE_THROWS_WITH(
      ember::MappedTokenFile(path), Catch::Contains("checksum mismatch"));
}

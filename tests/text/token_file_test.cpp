#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include <catch2/catch.hpp>
#include <ember_test_paths.hpp>
#include <unistd.h>

#include <ember/text/token_file.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

using ember::TokenId;
using Ids = std::vector<TokenId>;

namespace {

// A fresh temporary folder, removed at the end of the test case.
using TempDir = ember::test::TempDir;

Ids sample_ids(size_t n) {
  Ids ids(n);
  for (size_t i = 0; i < n; ++i)
    ids[i] = static_cast<TokenId>((i * 7919) % 50257);
  return ids;
}

}  // namespace

TEST_CASE("fnv1a64: published test vectors", "[tokenizer]") {
  CHECK(ember::fnv1a64("", 0) == 0xcbf29ce484222325ull);
  CHECK(ember::fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
  CHECK(ember::fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
  // Incremental == one shot.
  CHECK(
      ember::fnv1a64("bar", 3, ember::fnv1a64("foo", 3)) ==
      0x85944171f73967e8ull);
}

TEST_CASE(
    "TokenFileWriter: chunked writes read back identically", "[tokenizer]") {
  TempDir tmp("token_file_test");
  const Ids ids = sample_ids(100003);
  for (const uint32_t width : {16u, 32u}) {
    const std::string path = tmp.file("t" + std::to_string(width) + ".bin");
    ember::TokenFileWriter w(path, width, "gpt2");
    for (size_t i = 0; i < ids.size(); i += 4096) {
      w.append(ids.data() + i, std::min<size_t>(4096, ids.size() - i));
    }
    CHECK(w.num_tokens() == ids.size());
    CHECK_FALSE(std::filesystem::exists(path));  // appears on finish()
    w.finish();
    const auto h = ember::read_token_file_header(path);
    CHECK(h.version == ember::kTokenFileVersion);
    CHECK(h.width_bits == width);
    CHECK(h.num_tokens == ids.size());
    CHECK(h.vocab_name == "gpt2");
    CHECK(std::filesystem::file_size(path) == 64 + ids.size() * width / 8);
    CHECK(ember::read_token_file(path) == ids);
    // The in-memory encoder writes the same bytes.
    CHECK(
        ember::read_file(path) == ember::encode_token_file(ids, width, "gpt2"));
  }
}

TEST_CASE("Token file: the layout is the documented one", "[tokenizer]") {
  const std::string bytes =
      ember::encode_token_file({1, 258, 50256}, 16, "gpt2");
  REQUIRE(bytes.size() == 64 + 6);
  CHECK(bytes.substr(0, 8) == "EMBERTOK");
  CHECK(bytes.substr(8, 4) == std::string("\x02\x00\x00\x00", 4));   // version
  CHECK(bytes.substr(12, 4) == std::string("\x10\x00\x00\x00", 4));  // 16 bits
  CHECK(bytes.substr(16, 8) == std::string("\x03\0\0\0\0\0\0\0", 8));  // count
  CHECK(bytes.substr(32, 5) == std::string("gpt2\0", 5));
  const std::string payload("\x01\x00\x02\x01\x50\xc4", 6);  // little-endian
  CHECK(bytes.substr(64) == payload);
  const uint64_t sum = ember::xxh64(payload.data(), payload.size());
  std::string sum_le;
  for (int i = 0; i < 8; ++i) sum_le += static_cast<char>(sum >> (8 * i));
  CHECK(bytes.substr(24, 8) == sum_le);
}

TEST_CASE(
    "Token file: corrupt files are refused with a clear message",
    "[tokenizer]") {
  TempDir tmp("token_file_test");
  const std::string good = ember::encode_token_file({1, 2, 3, 4}, 16, "gpt2");
  const std::string path = tmp.file("bad.bin");
  auto write = [&](const std::string& bytes) {
    ember::write_file_atomic(path, bytes);
  };

  write("not a token file at all, just some text that is long enough......");
  REQUIRE_THROWS_WITH(
      ember::read_token_file(path),
      "token file " + path +
          ": bad magic (expected the file to start with \"EMBERTOK\"); hint: "
          "write token files with ember tokenize --format bin16|bin32");

  std::string wrong_width = good;
  wrong_width[12] = 24;
  write(wrong_width);
  REQUIRE_THROWS_WITH(
      ember::read_token_file(path),
      "token file " + path +
          ": unsupported token width 24 (expected 16 or 32)");

  std::string wrong_version = good;
  wrong_version[8] = 9;
  write(wrong_version);
  REQUIRE_THROWS_WITH(
      ember::read_token_file(path),
      "token file " + path +
          ": unsupported format version 9 (expected 1 to 2)");

  write(good.substr(0, good.size() - 1));
  REQUIRE_THROWS_WITH(
      ember::read_token_file(path),
      "token file " + path +
          ": size 71 does not match the header (expected 64 + 2 * 4 = 72 "
          "bytes); hint: the file is truncated or corrupt");
  REQUIRE_THROWS_AS(ember::read_token_file_header(path), ember::TokenizerError);

  write(good.substr(0, 20));
  REQUIRE_THROWS_WITH(
      ember::read_token_file(path),
      "token file " + path + ": truncated header (got 20 bytes, expected 64)");

  std::string flipped = good;
  flipped[64] = static_cast<char>(flipped[64] ^ 1);
  write(flipped);
  REQUIRE_THROWS_WITH(
      ember::read_token_file(path),
      Catch::StartsWith("token file " + path + ": checksum mismatch (got "));
  CHECK_NOTHROW(ember::read_token_file_header(path));  // header alone is fine

  REQUIRE_THROWS_WITH(
      ember::read_token_file(tmp.file("missing.bin")),
      "read " + tmp.file("missing.bin") + ": no such file");
}

TEST_CASE(
    "TokenFileWriter: bin16 refuses ids that need 32 bits", "[tokenizer]") {
  TempDir tmp("token_file_test");
  const std::string path = tmp.file("wide.bin");
  {
    ember::TokenFileWriter w(path, 16);
    w.append({1, 2});
    REQUIRE_THROWS_WITH(
        w.append({3, 70000}),
        "token file " + path +
            ": id 70000 at index 3 does not fit in 16 bits; hint: use bin32");
  }
  // Abandoned before finish(): nothing is left behind.
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(std::filesystem::is_empty(tmp.path()));
  REQUIRE_THROWS_WITH(
      ember::TokenFileWriter(path, 8),
      "token file " + path + ": unsupported token width 8 (expected 16 or 32)");
  CHECK(ember::token_width_for(50257) == 16);
  CHECK(ember::token_width_for(100277) == 32);
}

TEST_CASE(
    "Token file: text -> token file -> the tokenizer's ids", "[tokenizer]") {
  TempDir tmp("token_file_test");
  const auto tok = ember::Tokenizer::gpt2();
  const std::string text =
      ember::read_file(std::string(EMBER_SOURCE_DIR) + "/data/the-verdict.txt");
  const Ids ids = tok.encode(text);
  const std::string path = tmp.file("verdict.bin");
  ember::TokenFileWriter w(path, 16);
  w.append(ids);
  w.finish();
  const Ids back = ember::read_token_file(path);
  CHECK(back == ids);
  CHECK(tok.decode(back) == text);
}

namespace {

// The bench corpora folder: $EMBER_BENCH_DIR, else ../shared/data/bench
// beside the source tree; empty when absent.
std::string bench_dir() {
  if (const char* env = std::getenv("EMBER_BENCH_DIR")) return env;
  const auto dir = std::filesystem::path(EMBER_SOURCE_DIR).parent_path() /
                   "shared" / "data" / "bench";
  return std::filesystem::exists(dir / "mixed.txt") ? dir.string() : "";
}

// Runs `ember tokenize` on `inputs` into a bin16 token file; its ids.
Ids tokenize_with_cli(
    const std::vector<std::string>& inputs,
    unsigned threads,
    const std::string& out) {
  std::string cmd = std::string("'") + EMBER_BINARY +
                    "' tokenize --allowed-special all --format bin16 "
                    "--threads " +
                    std::to_string(threads) + " --output '" + out + "' --input";
  for (const auto& in : inputs) cmd += " '" + in + "'";
  INFO(cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
  return ember::read_token_file(out);
}

}  // namespace

TEST_CASE(
    "Token file: ember tokenize writes the in-memory ids at 1, 2 and 4 "
    "threads",
    "[tokenizer][slow]") {
  TempDir tmp("token_file_test");
  const auto tok = ember::Tokenizer::gpt2();
  std::vector<std::string> corpora{
      std::string(EMBER_SOURCE_DIR) + "/data/the-verdict.txt"};
  const std::string bench = bench_dir();
  if (bench.empty()) {
    WARN("bench corpora absent (../shared/data/bench): the-verdict only");
  } else {
    corpora.push_back(bench + "/code.txt");
    corpora.push_back(bench + "/mixed.txt");
  }
  std::vector<Ids> expected;
  for (const auto& path : corpora) {
    // The in-memory tokenizer on the whole text at once.
    expected.push_back(
        tok.encode(ember::read_file(path), ember::AllowedSpecial::all()));
  }
  for (const unsigned threads : {1u, 2u, 4u}) {
    for (size_t k = 0; k < corpora.size(); ++k) {
      INFO(corpora[k] << " at " << threads << " threads");
      const Ids got =
          tokenize_with_cli({corpora[k]}, threads, tmp.file("one.bin"));
      REQUIRE(got.size() == expected[k].size());
      CHECK(got == expected[k]);
    }
  }
  // Several inputs: the documents in order, <|endoftext|> between them.
  Ids joined;
  for (size_t k = 0; k < corpora.size(); ++k) {
    if (k > 0) joined.push_back(tok.eot_token());
    joined.insert(joined.end(), expected[k].begin(), expected[k].end());
  }
  CHECK(tokenize_with_cli(corpora, 2, tmp.file("all.bin")) == joined);
}

// A version-1 file: the layout of version 2 with FNV-1a 64 as the checksum.
static std::string version1_file(const std::string& v2) {
  std::string v1 = v2;
  v1[8] = 1;
  const uint64_t sum = ember::fnv1a64(v1.data() + 64, v1.size() - 64);
  for (int i = 0; i < 8; ++i) v1[24 + i] = static_cast<char>(sum >> (8 * i));
  return v1;
}

TEST_CASE(
    "Token file: version 1 files (FNV-1a 64) are still read", "[tokenizer]") {
  TempDir tmp("token_file_test");
  const std::vector<ember::TokenId> ids = {5, 0, 50256, 65535, 7};
  const std::string path = tmp.file("v1.bin");
  const std::string v1 =
      version1_file(ember::encode_token_file(ids, 16, "gpt2"));
  ember::write_file_atomic(path, v1);
  CHECK(ember::read_token_file_header(path).version == 1);
  CHECK(ember::read_token_file(path) == ids);
  // Its checksum is FNV's: an XXH64 value in a version-1 header is refused.
  std::string v1_wrong_sum = v1;
  v1_wrong_sum[8] = 1;
  const uint64_t xsum = ember::xxh64(v1.data() + 64, v1.size() - 64);
  for (int i = 0; i < 8; ++i)
    v1_wrong_sum[24 + i] = static_cast<char>(xsum >> (8 * i));
  ember::write_file_atomic(path, v1_wrong_sum);
  REQUIRE_THROWS_WITH(
      ember::read_token_file(path),
      Catch::StartsWith("token file " + path + ": checksum mismatch (got "));
}

TEST_CASE(
    "PayloadChecksum: pieces of any size give the one-call value",
    "[tokenizer]") {
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<char>(i * 31 + 7);
  for (uint32_t version : {1u, 2u}) {
    ember::PayloadChecksum whole(version);
    whole.update(data.data(), data.size());
    ember::PayloadChecksum pieces(version);
    size_t at = 0;
    for (size_t step = 1; at < data.size(); step = step * 3 % 41 + 1) {
      const size_t n = std::min(step, data.size() - at);
      pieces.update(data.data() + at, n);
      at += n;
    }
    CHECK(pieces.digest() == whole.digest());
    CHECK(
        whole.digest() == (version == 1
                               ? ember::fnv1a64(data.data(), data.size())
                               : ember::xxh64(data.data(), data.size())));
  }
}

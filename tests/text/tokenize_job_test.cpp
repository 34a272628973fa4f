#include <filesystem>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include <catch2/catch.hpp>

#include <ember/text/token_file.hpp>
#include <ember/text/tokenize_job.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace {

using ember::TokenizeJob;
using ember::TokenOutputFormat;

const ember::Tokenizer& gpt2() {
  static const ember::Tokenizer tok = ember::Tokenizer::gpt2();
  return tok;
}

}  // namespace

TEST_CASE(
    "TokenizeJob: inputs are one stream with <|endoftext|> between documents",
    "[tokenizer]") {
  ember::test::TempDir dir("tokenize_job");
  ember::write_file_atomic(dir.file("a.txt"), "hello world");
  ember::write_file_atomic(dir.file("b.txt"), " hello");
  TokenizeJob job;
  job.inputs = {dir.file("a.txt"), dir.file("b.txt")};
  job.output = dir.file("out.txt");
  job.num_threads = 1;
  CHECK(ember::run_tokenize_job(gpt2(), job) == 4);
  CHECK(ember::read_file(job.output) == "31373 995 50256 23748\n");

  job.format = TokenOutputFormat::kBin16;
  job.output = dir.file("out.bin");
  job.num_threads = 2;
  CHECK(ember::run_tokenize_job(gpt2(), job) == 4);
  CHECK(
      ember::read_token_file(job.output) ==
      std::vector<ember::TokenId>{31373, 995, 50256, 23748});
}

TEST_CASE(
    "TokenizeJob: a folder is its files sorted, hidden names skipped",
    "[tokenizer]") {
  ember::test::TempDir dir("tokenize_job_dir");
  std::filesystem::create_directories(dir.file("d/sub"));
  ember::write_file_atomic(dir.file("d/sub/b.txt"), "b");
  ember::write_file_atomic(dir.file("d/a.txt"), "a");
  ember::write_file_atomic(dir.file("d/.hidden"), "h");
  CHECK(
      ember::expand_inputs({dir.file("d"), "-"}) ==
      std::vector<std::string>{
          dir.file("d/a.txt"), dir.file("d/sub/b.txt"), "-"});
  std::filesystem::create_directories(dir.file("empty"));
  REQUIRE_THROWS_WITH(
      ember::expand_inputs({dir.file("empty")}),
      "tokenize: --input " + dir.file("empty") +
          ": the folder holds no files to tokenize");
}

TEST_CASE(
    "TokenizeJob: errors name the input and the byte offset in it",
    "[tokenizer]") {
  ember::test::TempDir dir("tokenize_job_err");
  ember::write_file_atomic(dir.file("ok.txt"), "fine");
  ember::write_file_atomic(dir.file("bad.txt"), "abc\xff");
  TokenizeJob job;
  job.inputs = {dir.file("ok.txt"), dir.file("bad.txt")};
  job.output = dir.file("out.txt");
  REQUIRE_THROWS_WITH(
      ember::run_tokenize_job(gpt2(), job),
      "tokenize: " + dir.file("bad.txt") +
          ": invalid utf-8 at byte 3; hint: the input must be UTF-8 text");
  CHECK_FALSE(std::filesystem::exists(job.output));  // nothing half-written
  job.inputs = {dir.file("ok.txt"), dir.file("missing.txt")};
  REQUIRE_THROWS_WITH(
      ember::run_tokenize_job(gpt2(), job),
      "read " + dir.file("missing.txt") + ": no such file");
}

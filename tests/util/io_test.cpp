#include <cstdio>
#include <string>

#include <catch2/catch.hpp>

#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

TEST_CASE("sha256_hex: FIPS 180-4 vectors", "[io]") {
  CHECK(
      ember::sha256_hex("") ==
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(
      ember::sha256_hex("abc") ==
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Two-block message (56 bytes: padding spills into a second block).
  CHECK(
      ember::sha256_hex(
          "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(
      ember::sha256_hex(std::string(1000000, 'a')) ==
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("read_file: errors name the file and the reason", "[io]") {
  REQUIRE_THROWS_WITH(
      ember::read_file("/nonexistent/x.txt"),
      "read /nonexistent/x.txt: no such file");
  REQUIRE_THROWS_WITH(
      ember::read_file("/tmp"), "read /tmp: is a directory, expected a file");
}

TEST_CASE("write_file_atomic: replaces the file whole", "[io]") {
  const std::string path = "/tmp/ember_io_test.txt";
  ember::write_file_atomic(path, "first");
  ember::write_file_atomic(path, "second");
  CHECK(ember::read_file(path) == "second");
  std::remove(path.c_str());
  REQUIRE_THROWS_AS(
      ember::write_file_atomic("/nonexistent/dir/x", "data"), ember::Error);
}

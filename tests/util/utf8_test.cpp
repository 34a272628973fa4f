// util/utf8.hpp against Python: bytes.decode("utf-8", errors="replace"),
// str.strip(), len() and slicing (the values were printed by Python 3.11).
#include <string>

#include <catch2/catch.hpp>

#include <ember/util/utf8.hpp>

TEST_CASE(
    "utf8: replace_invalid_utf8 as Python's errors=\"replace\"", "[utf8]") {
  const std::string r = "\xef\xbf\xbd";  // U+FFFD
  CHECK(ember::replace_invalid_utf8("ab\xff") == "ab" + r);
  CHECK(ember::replace_invalid_utf8("\xe2\x82") == r);  // one maximal subpart
  CHECK(
      ember::replace_invalid_utf8("\xe2\x82"
                                  "a") == r + "a");
  CHECK(ember::replace_invalid_utf8("\xf0\x9f\x98") == r);
  CHECK(ember::replace_invalid_utf8("\xed\xa0\x80") == r + r + r);  // surrogate
  CHECK(ember::replace_invalid_utf8("\xc0\xaf") == r + r);          // overlong
  CHECK(
      ember::replace_invalid_utf8("ok\xf4\x90\x80\x80") ==
      "ok" + r + r + r + r);
  CHECK(
      ember::replace_invalid_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80") ==
      "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST_CASE(
    "utf8: python_strip removes what str.isspace() calls space", "[utf8]") {
  // "\u3000\x1c \t\u2028x y\u00a0\u200b\u0085".strip() == "x y\xa0\u200b"
  CHECK(
      ember::python_strip(
          "\xe3\x80\x80\x1c \t\xe2\x80\xa8x y\xc2\xa0\xe2\x80\x8b\xc2\x85") ==
      "x y\xc2\xa0\xe2\x80\x8b");
  CHECK(ember::python_strip(" \n\r\x0b\x0c") == "");
  CHECK(ember::python_strip("") == "");
  CHECK(ember::python_strip("\xc3\xa9") == "\xc3\xa9");
}

TEST_CASE("utf8: code points as Python's len() and slicing", "[utf8]") {
  const std::string s = "a\xc3\xa9\xf0\x9f\x98\x80z";  // "aé😀z"
  CHECK(ember::count_code_points(s) == 4);
  CHECK(s.substr(ember::code_point_offset(s, 2)) == "\xf0\x9f\x98\x80z");
  CHECK(ember::code_point_offset(s, 4) == s.size());
  CHECK(ember::code_point_offset(s, 9) == s.size());
}

// generate/respond.hpp: the book's response extraction,
// generated_text[len(input_text):].replace("### Response:", "").strip(),
// with Python's code-point slice and strip.
#include <string>

#include <catch2/catch.hpp>

#include <ember/generate/respond.hpp>

TEST_CASE("respond: extract_response as the book's section 7.7", "[respond]") {
  const std::string prompt = "Below \xc3\xa9 prompt";  // 14 code points
  CHECK(
      ember::extract_response(
          prompt + "\n\n### Response:\nThe meal is cooked.\n", prompt) ==
      "The meal is cooked.");
  // Every "### Response:" goes, not only the first; inner spaces stay.
  CHECK(
      ember::extract_response(
          prompt + "### Response: a ### Response:b \xe3\x80\x80", prompt) ==
      "a b");
  // The slice counts code points of the prompt, not bytes.
  CHECK(ember::extract_response(prompt + "\xc3\xa9x", prompt) == "\xc3\xa9x");
  CHECK(ember::extract_response(prompt, prompt) == "");
}

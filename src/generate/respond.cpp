#include "ember/generate/respond.hpp"

#include <ember/util/utf8.hpp>

namespace ember {

std::string extract_response(
    std::string_view generated, std::string_view input_text) {
  std::string rest(generated.substr(
      code_point_offset(generated, count_code_points(input_text))));
  const std::string_view marker = "### Response:";
  std::string out;
  out.reserve(rest.size());
  size_t i = 0;
  for (size_t hit = rest.find(marker); hit != std::string::npos;
       hit = rest.find(marker, i)) {
    out.append(rest, i, hit - i);
    i = hit + marker.size();
  }
  out.append(rest, i, std::string::npos);
  return python_strip(out);
}

std::string respond(
    GPTModel& model,
    const Tokenizer& tokenizer,
    const InstructionEntry& entry,
    const GenerateOptions& options) {
  const std::string input_text = format_input(entry);
  const auto prompt =
      tokenizer.encode(input_text, AllowedSpecial({"<|endoftext|>"}));
  const auto out = generate(model, id_batch(prompt), options);
  const std::string generated =
      replace_invalid_utf8(tokenizer.decode(row_ids(out[0])));
  return extract_response(generated, input_text);
}

}  // namespace ember

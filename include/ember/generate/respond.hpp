// The book's section 7.7 (ch07 gpt_instruction_finetuning.py, "Generating
// responses"): for an instruction entry, generate from format_input(entry)
// with <|endoftext|> as the end, decode as tiktoken does, and extract the
// response as the book does:
//   generated_text[len(input_text):].replace("### Response:", "").strip()
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <ember/data/instruction_data.hpp>
#include <ember/generate/generate.hpp>
#include <ember/nn/gpt_model.hpp>
#include <ember/text/tokenizer.hpp>

namespace ember {

/// The book's response extraction, with Python's semantics: `generated` is
/// the decoded prompt and continuation (valid UTF-8, as decoding with
/// errors="replace" makes it), `input_text` the prompt; the slice counts
/// code points, strip() removes what str.isspace() calls whitespace.
std::string extract_response(
    std::string_view generated, std::string_view input_text);

/// One entry's response: the prompt's ids (tiktoken's encode with
/// <|endoftext|> allowed, as the book's text_to_token_ids), generate() with
/// `options` (the caller sets max_new_tokens, context_size and eos_id
/// 50256 as the book does), the ids decoded with U+FFFD for bytes that are
/// not UTF-8, then extract_response.
std::string respond(
    GPTModel& model,
    const Tokenizer& tokenizer,
    const InstructionEntry& entry,
    const GenerateOptions& options);

}  // namespace ember

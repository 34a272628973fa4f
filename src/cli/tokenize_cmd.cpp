// `ember tokenize` and `ember decode`: thin shells over ember::Tokenizer and
// the token-file format. The contract (issue 2) that scripts rely on:
//   ember tokenize [--input PATH|DIR|- ...] [--allowed-special
//   none|all|TOKEN[,...]]
//                  [--format ids|bin16|bin32] [--output PATH] [--threads N]
//     ids: decimal ids separated by single spaces, then one newline.
//     Several inputs (a folder: its files, sorted) are one stream of
//     documents with the id of <|endoftext|> between each two.
//   ember decode [--input PATH|-]
//     whitespace-separated ids (or a token file) in, the exact bytes out.
// The work (inputs as a document stream, the encode loop, the outputs) is
// ember::run_tokenize_job (text/tokenize_job.hpp).
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "app.hpp"
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <ember/text/id_text.hpp>
#include <ember/text/tokenize_job.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember::cli {
namespace {

struct TokenizeOptions {
  std::vector<std::string> inputs{"-"};
  std::string allowed_special = "none";
  std::string format = "ids";
  std::string output;
  unsigned threads = 0;
};

struct DecodeOptions {
  std::string input = "-";
};

AllowedSpecial parse_allowed_special(
    const std::string& spec, const Tokenizer& tok) {
  if (spec == "none") return AllowedSpecial::none();
  if (spec == "all") return AllowedSpecial::all();
  const std::vector<std::string> known = tok.special_tokens();
  std::set<std::string> names;
  size_t start = 0;
  for (;;) {
    const size_t comma = spec.find(',', start);
    const std::string name = spec.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      throw ConfigError(fmt::format(
          "tokenize: --allowed-special: unknown special token '{}' (expected "
          "none, all, or a comma-separated list of: {})",
          name,
          fmt::join(known, ", ")));
    }
    names.insert(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return AllowedSpecial(std::move(names));
}

TokenOutputFormat parse_format(const std::string& format) {
  if (format == "bin16") return TokenOutputFormat::kBin16;
  if (format == "bin32") return TokenOutputFormat::kBin32;
  return TokenOutputFormat::kIds;  // CLI::IsMember allows nothing else
}

void run_tokenize(const TokenizeOptions& opt) {
  const bool binary = opt.format != "ids";
  const bool to_stdout = opt.output.empty() || opt.output == "-";
  if (binary && to_stdout && ::isatty(STDOUT_FILENO)) {
    throw ConfigError(fmt::format(
        "tokenize: --format {} writes binary data; hint: pass --output PATH "
        "or redirect stdout",
        opt.format));
  }
  const Tokenizer tok = Tokenizer::gpt2();
  TokenizeJob job;
  job.allowed = parse_allowed_special(opt.allowed_special, tok);
  job.inputs = opt.inputs;
  job.format = parse_format(opt.format);
  job.output = opt.output;
  job.num_threads = opt.threads;
  job.show_progress = ::isatty(STDERR_FILENO) != 0;
  run_tokenize_job(tok, job);
}

void run_decode(const DecodeOptions& opt) {
  const Tokenizer tok = Tokenizer::gpt2();
  const std::string data = read_file_or_stdin(opt.input);
  const std::string what = opt.input == "-" ? "<stdin>" : opt.input;
  write_stdout(tok.decode(parse_decode_input(data, what, tok.vocab_size())));
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  auto topt = std::make_shared<TokenizeOptions>();
  CLI::App* tokenize = app.add_subcommand(
      "tokenize",
      "Encode UTF-8 text into GPT-2 token ids (tiktoken's gpt2, exactly)");
  tokenize
      ->add_option(
          "--input",
          topt->inputs,
          "Input files, folders (their files, sorted) or - for stdin "
          "(default: -); several are joined with <|endoftext|> between "
          "documents")
      ->expected(1, -1);
  tokenize
      ->add_option(
          "--allowed-special",
          topt->allowed_special,
          "Special tokens encoded as their ids: none, all, or a "
          "comma-separated list such as '<|endoftext|>' (default: none; a "
          "special token that is not allowed is an error)")
      ->type_name("none|all|TOKEN[,TOKEN...]");
  tokenize
      ->add_option(
          "--format",
          topt->format,
          "ids: decimal ids on one line; bin16/bin32: a token file "
          "(docs/token_file.md) (default: ids)")
      ->check(CLI::IsMember({"ids", "bin16", "bin32"}));
  tokenize->add_option(
      "--output", topt->output, "Output file (default: stdout)");
  tokenize
      ->add_option(
          "--threads",
          topt->threads,
          "Encoding threads, 0 = all cores (default: 0)")
      ->check(CLI::Range(0u, 1024u));
  tokenize->callback([topt] { run_tokenize(*topt); });

  auto dopt = std::make_shared<DecodeOptions>();
  CLI::App* decode = app.add_subcommand(
      "decode",
      "Decode whitespace-separated GPT-2 ids (or a token file) into the exact "
      "bytes, with no added newline");
  decode->add_option(
      "--input", dopt->input, "Input file, or - for stdin (default: -)");
  decode->callback([dopt] { run_decode(*dopt); });
}

}  // namespace ember::cli

// The work behind `ember tokenize`: inputs (files, folders, stdin) read as one
// stream of documents with <|endoftext|> between each two, encoded piece by
// piece with Tokenizer::encode_stream, written as decimal ids or a token file
// (docs/token_file.md), with an optional progress bar on stderr. tiktoken has
// no file front end to mirror; its messages name the command's flags because
// `ember tokenize` is their one caller. Argument parsing stays in src/cli/.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ember/text/tokenizer.hpp>

namespace ember {

/// What `ember tokenize --format` writes.
enum class TokenOutputFormat {
  kIds,    // decimal ids separated by single spaces, then one newline
  kBin16,  // a token file of 16-bit ids
  kBin32,  // a token file of 32-bit ids
};

/// One tokenize run.
struct TokenizeJob {
  /// Files, folders (their regular files, recursively, hidden names skipped,
  /// sorted by path) or "-" for stdin (at most once).
  std::vector<std::string> inputs{"-"};
  AllowedSpecial allowed;
  TokenOutputFormat format = TokenOutputFormat::kIds;
  /// Output file, written atomically; "" or "-" = stdout.
  std::string output;
  /// Encoding threads, 0 = all cores.
  unsigned num_threads = 0;
  /// A one-line progress bar (bytes, MB/s, ETA) and a summary on stderr.
  bool show_progress = false;
};

/// The documents named by `inputs`, in order, folders expanded (see
/// TokenizeJob::inputs). Throws Error for an unreadable or empty folder:
/// "tokenize: --input d: the folder holds no files to tokenize".
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs);

/// Runs `job` with `tok`. Every input is opened before any work, so a missing
/// one fails first ("read x.txt: no such file"); the output appears only when
/// every input was encoded. Throws Utf8Error ("tokenize: x.txt: invalid utf-8
/// at byte 7; hint: ...") and TokenizerError (a special token not allowed),
/// naming the input and the byte offset in it; ConfigError when stdin is
/// named twice; Error on I/O failure. Returns the number of tokens written.
///   run_tokenize_job(Tokenizer::gpt2(), {{"a.txt"}}) writes "31373 995\n"
///   to stdout for a.txt = "hello world".
uint64_t run_tokenize_job(const Tokenizer& tok, const TokenizeJob& job);

}  // namespace ember

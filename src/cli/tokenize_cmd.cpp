// `ember tokenize` and `ember decode`: thin shells over ember::Tokenizer and
// the token-file format. The contract (issue 2) that scripts rely on:
//   ember tokenize [--input PATH|-] [--allowed-special none|all|TOKEN[,...]]
//                  [--format ids|bin16|bin32] [--output PATH] [--threads N]
//     ids: decimal ids separated by single spaces, then one newline.
//   ember decode [--input PATH|-]
//     whitespace-separated ids (or a token file) in, the exact bytes out.
// tokenize streams the input in chunks (Tokenizer::encode_stream).
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "commands.hpp"
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>
#include <unistd.h>

#include <ember/error.hpp>
#include <ember/id_text.hpp>
#include <ember/io.hpp>
#include <ember/token_file.hpp>
#include <ember/tokenizer.hpp>

namespace ember::cli {
namespace {

struct TokenizeOptions {
  std::string input = "-";
  std::string allowed_special = "none";
  std::string format = "ids";
  std::string output;
  unsigned threads = 0;
};

struct DecodeOptions {
  std::string input = "-";
};

std::string input_name(const std::string& path) {
  return path == "-" ? "<stdin>" : path;
}

std::string read_input(const std::string& path) {
  if (path != "-") return read_file(path);
  std::string data;
  std::vector<char> buf(1 << 16);
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), stdin);
    data.append(buf.data(), n);
    if (n < buf.size()) {
      if (std::ferror(stdin)) {
        throw Error(fmt::format("read <stdin>: {}", std::strerror(errno)));
      }
      break;
    }
  }
  return data;
}

void write_stdout(std::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() ||
      std::fflush(stdout) != 0) {
    throw Error(fmt::format("write <stdout>: {}", std::strerror(errno)));
  }
}

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

// Appends decimal ids separated by single spaces; `first` tells whether a
// separator is due before the first one.
void append_ids(const std::vector<TokenId>& ids, bool first, std::string& out) {
  const size_t at = out.size();
  out.resize(at + ids.size() * 11);
  char* p = out.data() + at;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0 || !first) *p++ = ' ';
    char digits[10];
    int n = 0;
    TokenId v = ids[i];
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = digits[--n];
  }
  out.resize(static_cast<size_t>(p - out.data()));
}

// An open input; stdin for "-".
struct Input {
  explicit Input(const std::string& path) : name(input_name(path)) {
    if (path == "-") {
      file = stdin;
      return;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      throw Error(fmt::format("read {}: {}", path, errno_text(EISDIR)));
    }
    file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
      throw Error(fmt::format("read {}: {}", path, errno_text(errno)));
    }
    owned = true;
  }
  ~Input() {
    if (owned) std::fclose(file);
  }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
  std::string name;
  std::FILE* file = nullptr;
  bool owned = false;
};

// A text file written in pieces that appears atomically on commit() (temp
// file beside it, fsync, rename); removed if never committed.
class AtomicOutput {
 public:
  explicit AtomicOutput(std::string path)
      : path_(std::move(path)),
        tmp_(fmt::format("{}.tmp.{}", path_, ::getpid())) {
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (file_ == nullptr) fail(errno);
  }
  ~AtomicOutput() {
    if (file_ != nullptr) {
      std::fclose(file_);
      std::remove(tmp_.c_str());
    }
  }
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  void write(std::string_view data) {
    if (std::fwrite(data.data(), 1, data.size(), file_) != data.size()) {
      fail(errno);
    }
  }
  void commit() {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail(errno);
    std::FILE* f = std::exchange(file_, nullptr);
    if (std::fclose(f) != 0 || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      std::remove(tmp_.c_str());
      fail(err);
    }
  }

 private:
  [[noreturn]] void fail(int err) const {
    throw Error(fmt::format("write {}: {}", path_, errno_text(err)));
  }
  std::string path_;
  std::string tmp_;
  std::FILE* file_ = nullptr;
};

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
  const AllowedSpecial allowed =
      parse_allowed_special(opt.allowed_special, tok);
  Input in(opt.input);

  // Where each chunk's ids go. Everything streams except a token file to
  // stdout, whose header (count, checksum) must come first.
  std::function<void(const std::vector<TokenId>&)> sink;
  std::function<void()> finish;
  bool first = true;
  std::string text_buf;
  std::unique_ptr<AtomicOutput> text_out;
  std::unique_ptr<TokenFileWriter> bin_out;
  std::vector<TokenId> all_ids;
  const uint32_t width = opt.format == "bin16" ? 16 : 32;
  if (!binary) {
    if (!to_stdout) text_out = std::make_unique<AtomicOutput>(opt.output);
    sink = [&](const std::vector<TokenId>& ids) {
      text_buf.clear();
      append_ids(ids, first, text_buf);
      if (!ids.empty()) first = false;
      if (text_out) {
        text_out->write(text_buf);
      } else {
        write_stdout(text_buf);
      }
    };
    finish = [&] {
      if (text_out) {
        text_out->write("\n");
        text_out->commit();
      } else {
        write_stdout("\n");
      }
    };
  } else if (!to_stdout) {
    bin_out = std::make_unique<TokenFileWriter>(opt.output, width, "gpt2");
    sink = [&](const std::vector<TokenId>& ids) { bin_out->append(ids); };
    finish = [&] { bin_out->finish(); };
  } else {
    sink = [&](const std::vector<TokenId>& ids) {
      all_ids.insert(all_ids.end(), ids.begin(), ids.end());
    };
    finish = [&] { write_stdout(encode_token_file(all_ids, width, "gpt2")); };
  }

  try {
    tok.encode_stream(in.file, sink, allowed, Disallowed::kRaise, opt.threads);
  } catch (const Utf8Error& e) {
    throw Utf8Error(
        fmt::format(
            "tokenize: {}: invalid utf-8 at byte {}; hint: the input must be "
            "UTF-8 text",
            in.name,
            e.offset()),
        e.offset());
  } catch (const DisallowedSpecialError& e) {
    throw TokenizerError(fmt::format(
        "tokenize: {}: the input contains the special token '{}' at byte {}, "
        "which is not allowed; hint: pass --allowed-special '{}' (or all) to "
        "encode it as its id, or remove it from the input",
        in.name,
        e.token(),
        e.offset(),
        e.token()));
  }
  finish();
}

void run_decode(const DecodeOptions& opt) {
  const Tokenizer tok = Tokenizer::gpt2();
  const std::string data = read_input(opt.input);
  const std::string what = input_name(opt.input);
  write_stdout(tok.decode(parse_decode_input(data, what, tok.vocab_size())));
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  auto topt = std::make_shared<TokenizeOptions>();
  CLI::App* tokenize = app.add_subcommand(
      "tokenize",
      "Encode UTF-8 text into GPT-2 token ids (tiktoken's gpt2, exactly)");
  tokenize->add_option(
      "--input", topt->input, "Input file, or - for stdin (default: -)");
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
